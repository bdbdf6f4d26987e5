import { describe, expect, it } from 'vitest';
import { readSse } from './sse';

function stream(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

describe('readSse', () => {
  it('parses events split across chunks, skipping comments', async () => {
    const out = [];
    for await (const e of readSse(stream([': hi\n\nid: 3\nevent: li', 'ne\ndata: {"a":1}\n\n', 'event: done\r\ndata: x\r\ndata: y\r\n\r\n']))) out.push(e);
    expect(out).toEqual([
      { event: 'line', data: '{"a":1}', id: '3' },
      { event: 'done', data: 'x\ny' },
    ]);
  });
});
