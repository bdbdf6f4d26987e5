import type { ReactNode } from 'react';

export function Spinner({ label = 'Loading…' }: { label?: string }) {
  return (
    <span className="spinner-wrap" role="status">
      <span className="spinner" aria-hidden="true" />
      <span>{label}</span>
    </span>
  );
}

export function Loading({ what }: { what?: string }) {
  return (
    <div className="state state-loading">
      <Spinner label={what ? `Loading ${what}…` : 'Loading…'} />
    </div>
  );
}

export function ErrorNote({ error, onRetry, title = 'Something went wrong' }: { error: string; onRetry?: () => void; title?: string }) {
  return (
    <div className="alert alert-error" role="alert">
      <strong>{title}</strong>
      <span>{error}</span>
      {onRetry && (
        <button type="button" className="btn btn-small" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function EmptyState({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="state state-empty">
      <p className="state-title">{title}</p>
      {children && <div className="state-body">{children}</div>}
      {action && <div className="state-action">{action}</div>}
    </div>
  );
}
