/**
 * Reads a Caddy's JSON log as it is written and keeps the wall-clock times (ms since the epoch, Caddy's `ts`)
 * at which its admin API received a `POST /load` and finished it. The benchmark compares them with Date.now()
 * taken around API calls: same machine, same clock.
 */
import type { Readable } from 'node:stream';

export class CaddyLoadLog {
  readonly received: number[] = [];
  readonly completed: number[] = [];
  private rest = '';

  constructor(stream: Readable) {
    stream.on('data', (chunk: Buffer) => {
      const text = this.rest + chunk.toString('utf8');
      const lines = text.split('\n');
      this.rest = lines.pop() ?? '';
      for (const line of lines) this.line(line);
    });
  }

  private line(line: string): void {
    if (!line.includes('"admin.api"')) return;
    let entry: { ts?: number; msg?: string; uri?: string; method?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return;
    }
    if (typeof entry.ts !== 'number') return;
    if (entry.msg === 'received request' && entry.method === 'POST' && entry.uri === '/load') this.received.push(entry.ts * 1000);
    else if (entry.msg === 'load complete') this.completed.push(entry.ts * 1000);
  }

  /** The first time in `list` at or after `t` (ms since the epoch), or NaN. */
  static firstAfter(list: readonly number[], t: number): number {
    for (const v of list) if (v >= t) return v;
    return NaN;
  }
}
