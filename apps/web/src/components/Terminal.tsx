import { forwardRef, useEffect, useImperativeHandle, useRef } from 'react';
import type { Terminal as XTerm } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';

export interface TerminalHandle {
  writeLine(text: string): void;
  clear(): void;
}

/**
 * A read-only terminal (xterm.js) that renders ANSI colours; lines are written through the handle, and xterm
 * batches them per frame, so fast output (apt) does not stall the page.
 */
export const Terminal = forwardRef<TerminalHandle, { rows?: number; label: string }>(function Terminal({ rows = 18, label }, ref) {
  const host = useRef<HTMLDivElement>(null);
  const term = useRef<XTerm | null>(null);
  const pending = useRef<string[]>([]);

  useEffect(() => {
    let t: XTerm | null = null;
    let disposed = false;
    // xterm.js is loaded with the first terminal, not with every page of the dashboard.
    void import('@xterm/xterm').then(({ Terminal: XTermClass }) => {
      if (disposed) return;
      t = new XTermClass({
        rows,
        cols: 120,
        disableStdin: true,
        convertEol: true,
        scrollback: 10_000,
        fontSize: 12,
        fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
        theme: { background: '#0f1720', foreground: '#d6dde6' },
      });
      t.open(host.current!);
      term.current = t;
      host.current!.dataset.ready = 'true';
      for (const l of pending.current) t.writeln(l);
      pending.current = [];
    });
    return () => {
      disposed = true;
      term.current = null;
      t?.dispose();
    };
  }, [rows]);

  useImperativeHandle(ref, () => ({
    writeLine(text: string) {
      if (term.current) term.current.writeln(text);
      else pending.current.push(text);
    },
    clear() {
      term.current?.reset();
      pending.current = [];
    },
  }));

  return <div className="terminal" ref={host} role="log" aria-label={label} data-testid="provision-terminal" />;
});
