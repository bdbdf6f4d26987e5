import pino, { type Logger } from 'pino';
import type { LogLevel } from './options';

/** JSON lines on stderr (stdout stays free for CLI output), written synchronously: the agent logs little, and the last lines before an exit matter most. */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { svc: 'agent' } }, logDestination(2, true));
}

/**
 * pino's destination on stdout (1) or stderr (2), which goes quiet once its terminal hung up (every write then
 * fails with EIO, see ./stop-signals.ts), as pino's own does on EPIPE.
 */
export function logDestination(fd: 1 | 2, sync: boolean): pino.DestinationStream {
  const dest = pino.destination({ fd, sync });
  dest.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EIO') throw err;
    dest.write = () => true;
    dest.flush = () => {};
    dest.flushSync = () => {};
    dest.end = () => {};
  });
  return dest;
}
