export { loadConfig, ConfigError, CONTROLLER_OPTIONS, type ControllerConfig } from './config';
export { startController, type RunningController, type StartOptions } from './server';
export { API_PREFIX, VERSION } from './http/app';
export { issueLocalAgentKey } from './local-agent-key';
export { LOCAL_NODE_ID } from './services/context';
