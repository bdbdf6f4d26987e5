/** The enrollment token from stdin (`--token-stdin`), so it never appears in argv or the process list. */

const MAX_BYTES = 4096;

/** First non-empty line of the stream, trimmed; reads at most 4 KiB. */
export async function readTokenFrom(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (text.length > MAX_BYTES) throw new Error(`--token-stdin: more than ${MAX_BYTES} bytes on stdin; expected one token`);
    if (/\S\s*\n/.test(text)) break;
  }
  const token = text.split('\n').map((l) => l.trim()).find((l) => l.length > 0);
  if (!token) throw new Error('--token-stdin: stdin was empty; pipe the enrollment token in, e.g. printf %s "$TOKEN" | caddyfleet-agent install … --token-stdin');
  return token;
}
