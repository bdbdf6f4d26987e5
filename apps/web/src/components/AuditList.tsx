import type { AuditEntry } from '../api/types';
import { auditChanges, describeAudit } from '../lib/audit';
import { RelativeTime } from './RelativeTime';

/** Compact activity feed: who did what, when, and the changed fields on demand. */
export function AuditList({ entries }: { entries: AuditEntry[] }) {
  return (
    <ul className="activity">
      {entries.map((e) => {
        const changes = e.action === 'update' ? auditChanges(e) : [];
        return (
          <li key={e.id}>
            <span className="activity-what">
              <strong>{e.actor}</strong> {describeAudit(e)}
            </span>
            <span className="activity-when muted">
              <RelativeTime iso={e.at} />
            </span>
            {changes.length > 0 && <AuditChanges changes={changes} className="activity-changes" />}
          </li>
        );
      })}
    </ul>
  );
}

/** An update's changed fields ("field: before → after"), folded behind "N changes". */
export function AuditChanges({ changes, className, listClassName }: { changes: ReturnType<typeof auditChanges>; className?: string; listClassName?: string }) {
  return (
    <details className={className}>
      <summary>{changes.length === 1 ? '1 change' : `${changes.length} changes`}</summary>
      <ul className={listClassName}>
        {changes.map((c) => (
          <li key={c.field}>
            <code>{c.field}</code>: {c.before} → {c.after}
          </li>
        ))}
      </ul>
    </details>
  );
}
