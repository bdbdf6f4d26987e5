export { buildCaddyConfig, HTTP_SERVER, HTTPS_SERVER } from './build-config';
export type { BuildOptions, BuildResult, UnsupportedRoute } from './build-config';
export { NO_LAYER4_REASON } from './layer4';
export { CaddyAdmin, CaddyAdminError, CaddyLoadError } from './admin-client';
export type { CaddyAdminOptions } from './admin-client';
export { parseAdminEndpoint } from './admin-endpoint';
export type { CaddyAdminEndpoint } from './admin-endpoint';
export type * from './caddy-json';
