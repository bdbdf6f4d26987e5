export { loadConfig, ConfigError, CONTROLLER_OPTIONS, type ControllerConfig } from './config';
export { startController, type RunningController, type StartOptions } from './server';
export { API_PREFIX, VERSION } from './http/app';
