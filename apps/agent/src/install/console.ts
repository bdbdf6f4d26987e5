/** Human-readable output for install and uninstall (the agent's own pino JSON logs are for the journal). */
import pino, { type Logger } from 'pino';

export interface Say {
  (line: string): void;
  /** A pino logger that prints its messages as plain lines (for code shared with the agent, such as enroll). */
  logger: Logger;
}

export function createSay(out: { write(s: string): unknown } = process.stdout, err: { write(s: string): unknown } = process.stderr): Say {
  const say = ((line: string) => void out.write(`caddyfleet-agent: ${line}\n`)) as Say;
  say.logger = pino(
    { level: 'warn', base: null, timestamp: false },
    {
      write(json: string) {
        const o = JSON.parse(json) as { msg?: string; err?: string };
        err.write(`caddyfleet-agent: ${o.msg ?? ''}${o.err ? `: ${o.err}` : ''}\n`);
      },
    },
  );
  return say;
}
