import { useEffect, useState } from 'react';

async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall back below */
  }
  // Plain-HTTP dashboards have no async clipboard API: copy through a temporary selection.
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const t = setTimeout(() => setState('idle'), 2000);
    return () => clearTimeout(t);
  }, [state]);
  return (
    <button type="button" className="btn btn-small" onClick={() => void copyText(text).then((ok) => setState(ok ? 'copied' : 'failed'))}>
      <span aria-live="polite">{state === 'copied' ? 'Copied ✓' : state === 'failed' ? 'Select and copy manually' : label}</span>
    </button>
  );
}

/** A read-only secret or command with a copy button; shown once. */
export function SecretBox({ value, label, multiline = false }: { value: string; label: string; multiline?: boolean }) {
  return (
    <div className="secret-box">
      <span className="secret-label">{label}</span>
      <div className="secret-row">
        {multiline ? (
          <textarea className="mono" readOnly value={value} rows={3} aria-label={label} onFocus={(e) => e.currentTarget.select()} />
        ) : (
          <input className="mono" readOnly value={value} aria-label={label} onFocus={(e) => e.currentTarget.select()} />
        )}
        <CopyButton text={value} />
      </div>
    </div>
  );
}
