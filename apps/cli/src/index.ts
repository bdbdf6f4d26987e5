export { buildProgram, runCli, formatError, exitCodeOf, waitForSignal } from './program';
export { ApiClient, ApiError, ConnectionError, API_PREFIX, DEFAULT_URL, normalizeBaseUrl, type ApiClientOptions } from './api-client';
export { CliError, UsageError } from './errors';
export type { CliIO } from './context';
export { parseHostPort, parseListen, formatHostPort } from './parse';
export { renderTable, renderKeyValue } from './output';
