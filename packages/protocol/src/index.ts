export * from './limits';
export * from './validators';
export * from './routes';
export * from './fleet';
export * from './auth';
export * from './agent';
export * from './tls';
