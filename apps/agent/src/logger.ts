import pino, { type Logger } from 'pino';
import type { LogLevel } from './options';

/** JSON lines on stderr (stdout stays free for CLI output), written synchronously: the agent logs little, and the last lines before an exit matter most. */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { svc: 'agent' } }, pino.destination({ fd: 2, sync: true }));
}
