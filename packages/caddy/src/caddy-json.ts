/**
 * The subset of Caddy's JSON config (https://caddyserver.com/docs/json/) that this package renders.
 * Typed so that callers and tests can walk the result without casts; Caddy accepts more than this.
 */

export interface HttpHandler {
  handler: string;
  [field: string]: unknown;
}

export interface HttpRoute {
  match?: { host: string[] }[];
  handle: HttpHandler[];
  terminal?: boolean;
}

export interface HttpServer {
  listen: string[];
  routes: HttpRoute[];
  automatic_https?: { disable?: boolean; disable_redirects?: boolean; skip?: string[] };
}

export interface HttpApp {
  http_port: number;
  servers: Record<string, HttpServer>;
}

export interface TlsAutomationPolicy {
  subjects: string[];
  issuers: { module: string }[];
}

export interface TlsApp {
  automation: { policies: TlsAutomationPolicy[] };
}

export interface PkiApp {
  certificate_authorities: { local: { install_trust: boolean } };
}

export interface Layer4Route {
  match?: { tls: { sni: string[] } }[];
  handle: {
    handler: 'proxy';
    upstreams: { dial: string[] }[];
    load_balancing?: { selection: { policy: string } };
    proxy_protocol?: 'v1' | 'v2';
  }[];
}

export interface Layer4App {
  servers: Record<string, { listen: string[]; routes: Layer4Route[] }>;
}

export interface CaddyConfig {
  admin: { listen: string };
  storage?: { module: 'file_system'; root: string };
  apps: {
    http: HttpApp;
    tls?: TlsApp;
    pki?: PkiApp;
    layer4?: Layer4App;
  };
}
