import type { ReactNode } from 'react';

/** The submit button of a form that sits in a page card (a dialog's form ends with FormFooter instead). */
export function CardSubmit({ busy, label, busyLabel }: { busy: boolean; label: string; busyLabel: string }) {
  return (
    <div className="inline-actions">
      <button type="submit" className="btn btn-primary" disabled={busy}>
        {busy ? busyLabel : label}
      </button>
    </div>
  );
}

/** Below a card's form: its form-level error and what it did, each only when there is one. */
export function CardFormResult({ error, done }: { error?: string | null; done?: ReactNode }) {
  return (
    <>
      {error && (
        <p className="alert alert-error" role="alert">
          {error}
        </p>
      )}
      {done && (
        <p className="alert alert-ok" role="status">
          {done}
        </p>
      )}
    </>
  );
}
