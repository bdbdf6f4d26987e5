/**
 * Caddy's stdout and stderr go to caddy.log in its dir, not through pipes to the agent: Caddy must be able to
 * outlive the agent (the next agent adopts it), and a Go program dies of SIGPIPE when it writes to a pipe
 * whose reader is gone. The agent follows the file to surface Caddy's errors in its own log, and quotes the
 * file's tail in error messages. The file is kept to about `maxBytes` (plus one rotated copy, caddy.log.1).
 */
import { copyFile, open, rename, stat, truncate, type FileHandle } from 'node:fs/promises';

export const LOG_MAX_BYTES = 10 * 1024 * 1024;
/** How much of the file's end is read for the tail. */
const TAIL_READ_BYTES = 64 * 1024;
/** At most this much new output is read per poll; a flood beyond it is skipped, not buffered. */
const FOLLOW_READ_BYTES = 1024 * 1024;
const MAX_LINE = 2000;

async function statOrNull(file: string) {
  try {
    return await stat(file);
  } catch {
    return null;
  }
}

/**
 * Opens the log for a new Caddy (append mode, so a truncation of the file by the follower is safe while Caddy
 * writes), first moving a file larger than `maxBytes` to `<file>.1`. `offset` is where the new output starts.
 */
export async function openLogForSpawn(file: string, maxBytes = LOG_MAX_BYTES): Promise<{ handle: FileHandle; offset: number }> {
  const before = await statOrNull(file);
  if (before && before.size > maxBytes) await rename(file, `${file}.1`);
  const handle = await open(file, 'a', 0o600);
  return { handle, offset: (await handle.stat()).size };
}

/** The last `count` non-empty lines of `text`, each cut to a readable length. */
export function lastLines(text: string, count: number): string[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(-count).map((l) => (l.length > MAX_LINE ? `${l.slice(0, MAX_LINE)}...` : l));
}

/** The last lines written since `fromOffset` (so not an earlier run's), for error messages; '' when none. */
export async function readLogTail(file: string, fromOffset: number, count = 40): Promise<string> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = (await fh.stat()).size;
    // Smaller than the offset: truncated or rotated since, so all of it is newer.
    const from = fromOffset <= size ? fromOffset : 0;
    const start = Math.max(from, size - TAIL_READ_BYTES);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    let text = buf.toString('utf8');
    // Started in the middle of a line: drop that fragment.
    if (start > from) text = text.slice(text.indexOf('\n') + 1);
    return lastLines(text, count).join('\n');
  } finally {
    await fh.close();
  }
}

/**
 * Caddy logs JSON lines with a `level`. A plain line is Go itself speaking (a panic, a fatal runtime error) or
 * Caddy's command-line front end failing, which are errors when they say so.
 */
export function caddyLineLevel(line: string): string {
  try {
    const level = (JSON.parse(line) as { level?: unknown }).level;
    return typeof level === 'string' ? level : 'info';
  } catch {
    return /^(panic|fatal error|Error):?\s/.test(line) ? 'error' : 'info';
  }
}

/**
 * Reads what is appended to the log, line by line, from where it was when started (earlier output is not
 * replayed). Copes with the file being rotated (new inode) or truncated, and truncates it in place (after
 * copying it to `<file>.1`) when a long-running Caddy grows it beyond `maxBytes`: Caddy keeps its file open, so
 * renaming would not shrink anything.
 */
export class LogFollower {
  private offset = 0;
  private ino = -1;
  private partial = '';
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;

  constructor(
    private readonly file: string,
    private readonly onLine: (line: string) => void,
    private readonly maxBytes = LOG_MAX_BYTES,
  ) {}

  async start(intervalMs = 1000): Promise<void> {
    const st = await statOrNull(this.file);
    this.offset = st?.size ?? 0;
    this.ino = st?.ino ?? -1;
    this.timer ??= setInterval(() => void this.poll(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One round of reading; concurrent calls share it. */
  poll(): Promise<void> {
    this.polling ??= this.read().finally(() => (this.polling = null));
    return this.polling;
  }

  private async read(): Promise<void> {
    const st = await statOrNull(this.file);
    if (!st) return;
    if (st.ino !== this.ino || st.size < this.offset) {
      this.ino = st.ino;
      this.offset = 0;
      this.partial = '';
    }
    if (st.size > this.offset) {
      if (st.size - this.offset > FOLLOW_READ_BYTES) {
        this.offset = st.size - FOLLOW_READ_BYTES;
        this.partial = '';
      }
      const fh = await open(this.file, 'r');
      try {
        const buf = Buffer.alloc(st.size - this.offset);
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        this.offset += bytesRead;
        const lines = (this.partial + buf.subarray(0, bytesRead).toString('utf8')).split('\n');
        this.partial = lines.pop() ?? '';
        if (this.partial.length > FOLLOW_READ_BYTES) this.partial = '';
        for (const line of lines) if (line.trim()) this.onLine(line);
      } finally {
        await fh.close();
      }
    }
    if (st.size > this.maxBytes) {
      await copyFile(this.file, `${this.file}.1`);
      await truncate(this.file, 0);
      this.offset = 0;
      this.partial = '';
    }
  }
}
