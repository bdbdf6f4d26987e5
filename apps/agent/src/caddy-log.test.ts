import { appendFile, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caddyLineLevel, lastLines, LogFollower, openLogForSpawn, readLogTail } from './caddy-log';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'caddyfleet-log-'));
  file = join(dir, 'caddy.log');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('lastLines', () => {
  it('keeps the last non-empty lines and cuts very long ones', () => {
    expect(lastLines('a\n\nb\nc\n', 2)).toEqual(['b', 'c']);
    expect(lastLines('', 5)).toEqual([]);
    const [long] = lastLines('x'.repeat(5000), 1);
    expect(long).toHaveLength(2003);
    expect(long!.endsWith('...')).toBe(true);
  });
});

describe('caddyLineLevel', () => {
  it("reads Caddy's JSON level and recognises Go's plain-text failures", () => {
    expect(caddyLineLevel('{"level":"error","msg":"x"}')).toBe('error');
    expect(caddyLineLevel('{"level":"info","msg":"x"}')).toBe('info');
    expect(caddyLineLevel('{"msg":"no level"}')).toBe('info');
    expect(caddyLineLevel('panic: runtime error: index out of range')).toBe('error');
    expect(caddyLineLevel('Error: loading initial config: open x: no such file')).toBe('error');
    expect(caddyLineLevel('just some text')).toBe('info');
  });
});

describe('openLogForSpawn and readLogTail', () => {
  it("quotes only the current run's lines", async () => {
    await writeFile(file, 'old run 1\nold run 2\n');
    const { handle, offset } = await openLogForSpawn(file, 1024);
    await handle.write('new 1\nnew 2\n');
    await handle.close();
    expect(await readLogTail(file, offset)).toBe('new 1\nnew 2');
    expect(await readLogTail(file, 0, 3)).toBe('old run 2\nnew 1\nnew 2');
    // Truncated since the run began: everything in it is newer.
    await writeFile(file, 'after truncation\n');
    expect(await readLogTail(file, offset)).toBe('after truncation');
    expect(await readLogTail(join(dir, 'missing.log'), 0)).toBe('');
  });

  it('reads only the end of a large file, without a partial first line', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${'y'.repeat(20)}`);
    await writeFile(file, lines.join('\n') + '\n');
    const tail = (await readLogTail(file, 0, 3)).split('\n');
    expect(tail).toEqual(lines.slice(-3));
  });

  it('moves a file over the limit to .1 and appends to a fresh one', async () => {
    await writeFile(file, 'z'.repeat(2048));
    const { handle, offset } = await openLogForSpawn(file, 1024);
    await handle.write('fresh\n');
    await handle.close();
    expect(offset).toBe(0);
    expect(await readFile(file, 'utf8')).toBe('fresh\n');
    expect((await stat(`${file}.1`)).size).toBe(2048);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});

describe('LogFollower', () => {
  it('emits appended lines once, whole, and not what was there before it started', async () => {
    await writeFile(file, 'before\n');
    const seen: string[] = [];
    const f = new LogFollower(file, (l) => seen.push(l), 1024 * 1024);
    await f.start(60_000);
    try {
      await appendFile(file, 'one\ntw');
      await f.poll();
      expect(seen).toEqual(['one']);
      await appendFile(file, 'o\n\nthree\n');
      await f.poll();
      expect(seen).toEqual(['one', 'two', 'three']);
      await f.poll();
      expect(seen).toEqual(['one', 'two', 'three']);
    } finally {
      f.stop();
    }
  });

  it('follows a rotated or truncated file from its start', async () => {
    await writeFile(file, '');
    const seen: string[] = [];
    const f = new LogFollower(file, (l) => seen.push(l), 1024 * 1024);
    await f.start(60_000);
    try {
      await appendFile(file, 'first run\n');
      await f.poll();
      // What openLogForSpawn does: the old file (still open by nobody) moves aside, a new one starts.
      await rename(file, `${file}.1`);
      await writeFile(file, 'second run\n');
      await f.poll();
      await writeFile(file, 'x\n');
      await f.poll();
      expect(seen).toEqual(['first run', 'second run', 'x']);
    } finally {
      f.stop();
    }
  });

  it('copies a file grown over the limit to .1 and truncates it in place', async () => {
    await writeFile(file, '');
    const seen: string[] = [];
    const f = new LogFollower(file, (l) => seen.push(l), 100);
    await f.start(60_000);
    try {
      const big = Array.from({ length: 10 }, (_, i) => `line ${i} of the big write`).join('\n') + '\n';
      await appendFile(file, big);
      await f.poll();
      expect(seen).toHaveLength(10);
      expect((await stat(file)).size).toBe(0);
      expect(await readFile(`${file}.1`, 'utf8')).toBe(big);
      await appendFile(file, 'after\n');
      await f.poll();
      expect(seen.at(-1)).toBe('after');
    } finally {
      f.stop();
    }
  });
});
