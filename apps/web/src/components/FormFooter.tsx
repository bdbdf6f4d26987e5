import type { ReactNode } from 'react';

/** The end of every dialog form: the form-level error, then Cancel and the submit button. */
export function FormFooter(props: { error: string | null | undefined; busy: boolean; onCancel: () => void; submitLabel: string; busyLabel: string; disabled?: boolean }) {
  return (
    <>
      {props.error && (
        <p className="alert alert-error" role="alert">
          {props.error}
        </p>
      )}
      <div className="form-actions">
        <button type="button" className="btn" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" className="btn btn-primary" disabled={props.busy || props.disabled}>
          {props.busy ? props.busyLabel : props.submitLabel}
        </button>
      </div>
    </>
  );
}

/** The end of a dialog with nothing (left) to submit: `children` (e.g. a link onwards), then Close. */
export function DialogClose({ onClose, children }: { onClose: () => void; children?: ReactNode }) {
  return (
    <div className="form-actions">
      {children}
      <button type="button" className="btn" onClick={onClose}>
        Close
      </button>
    </div>
  );
}
