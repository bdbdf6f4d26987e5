import { describe, expect, it } from 'vitest';
import { LineSplitter, MAX_LINE_CHARS } from './line-splitter';

function split(chunks: (string | Buffer)[]): string[] {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l));
  for (const c of chunks) s.push(c);
  s.end();
  return lines;
}

describe('LineSplitter', () => {
  it('splits on \\n, \\r\\n and a lone \\r, also across chunks', () => {
    expect(split(['a\nb', 'c\r\nd\re'])).toEqual(['a', 'bc', 'd', 'e']);
    expect(split(['x\r', '\ny\n'])).toEqual(['x', 'y']);
    expect(split(['\n\n'])).toEqual(['', '']);
  });

  it('decodes a multi-byte character split between chunks', () => {
    const bytes = Buffer.from('héllo\n');
    expect(split([bytes.subarray(0, 2), bytes.subarray(2)])).toEqual(['héllo']);
  });

  it('cuts an endless line into bounded pieces', () => {
    const lines = split(['x'.repeat(MAX_LINE_CHARS * 2 + 5)]);
    expect(lines.map((l) => l.length)).toEqual([MAX_LINE_CHARS, MAX_LINE_CHARS, 5]);
  });
});
