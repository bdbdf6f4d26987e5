import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readTokenFrom } from './token-input';

describe('readTokenFrom', () => {
  it('takes the first non-empty line, trimmed', async () => {
    expect(await readTokenFrom(Readable.from(['\n  cfe_abc', 'DEF  \nsecond line\n']))).toBe('cfe_abcDEF');
    expect(await readTokenFrom(Readable.from(['cfe_no_newline']))).toBe('cfe_no_newline');
  });

  it('refuses empty or oversized input', async () => {
    await expect(readTokenFrom(Readable.from(['\n \n']))).rejects.toThrow(/stdin was empty/);
    await expect(readTokenFrom(Readable.from(['x'.repeat(5000)]))).rejects.toThrow(/more than 4096 bytes/);
  });
});
