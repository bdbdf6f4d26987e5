import { StringDecoder } from 'node:string_decoder';

/** Longest line kept whole; a longer one (a progress bar without newlines) is cut into pieces of this size. */
export const MAX_LINE_CHARS = 2000;

/**
 * Turns a byte stream into lines. `\r` alone also ends a line (apt and curl redraw progress with it), and
 * multi-byte characters split across chunks are decoded whole.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  /** The last chunk ended in `\r`: a `\n` starting the next one belongs to that line end. */
  private pendingCr = false;

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    this.feed(typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
  }

  end(): void {
    this.feed(this.decoder.end());
    if (this.partial) this.onLine(this.partial);
    this.partial = '';
  }

  private feed(text: string): void {
    if (!text) return;
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = text.endsWith('\r');
    const parts = (this.partial + text).split(/\r\n|\r|\n/);
    this.partial = parts.pop() ?? '';
    for (const p of parts) this.onLine(p);
    while (this.partial.length > MAX_LINE_CHARS) {
      this.onLine(this.partial.slice(0, MAX_LINE_CHARS));
      this.partial = this.partial.slice(MAX_LINE_CHARS);
    }
  }
}
