import { useState } from 'react';
import { api } from '../api/client';
import type { EnrollmentToken } from '../api/types';
import { useEnrollmentTokens, tokenState, type TokenState } from '../hooks/useEnrollmentTokens';
import { useLiveNodes } from '../hooks/useLiveNodes';
import { useNow } from '../hooks/useNow';
import { dateTime, nodeLabel } from '../lib/format';
import { Link } from '../lib/router';
import { NewAgentDialog } from '../pages/NewAgentDialog';
import { Badge } from './Badges';
import { ConfirmDialog } from './ConfirmDialog';
import { RelativeTime } from './RelativeTime';
import { ErrorNote, Loading } from './States';
import { Table } from './Table';

const STATE_BADGE: Record<TokenState, { tone: 'info' | 'ok' | 'warn' | 'neutral'; label: string }> = {
  unused: { tone: 'info', label: 'Unused' },
  used: { tone: 'ok', label: 'Used' },
  revoked: { tone: 'neutral', label: 'Revoked' },
  expired: { tone: 'warn', label: 'Expired' },
};

function UsedBy({ token }: { token: EnrollmentToken }) {
  const live = useLiveNodes();
  if (!token.usedByNodeId) return <span className="muted">—</span>;
  const node = live.byId(token.usedByNodeId);
  if (!node) {
    return (
      <span className="muted" title="This server was deleted since">
        deleted server <span className="mono">{token.usedByNodeId}</span>
      </span>
    );
  }
  return (
    <Link to={`/servers/${encodeURIComponent(node.id)}`} className="strong">
      {nodeLabel(node, node.id)}
    </Link>
  );
}

/**
 * A site's enrollment tokens: when each was made and expires, whether (and by which server) it was used, and
 * "Revoke" for the ones an agent could still use. "New enrollment token" reuses the New agent dialog.
 */
export function SiteTokens({ siteId, siteName, canWrite }: { siteId: string; siteName: string; canWrite: boolean }) {
  const tokens = useEnrollmentTokens(siteId);
  const now = useNow();
  const [revoking, setRevoking] = useState<EnrollmentToken | null>(null);
  const [issuing, setIssuing] = useState(false);
  const list = tokens.data ?? [];

  return (
    <div className="site-tokens">
      <div className="site-tokens-head">
        <p className="muted">
          Single-use secrets that let an agent join this site. The secret is shown only when a token is created; an unused one can be
          revoked here.
        </p>
        {canWrite && (
          <button type="button" className="btn btn-small" onClick={() => setIssuing(true)} aria-label={`New enrollment token for ${siteName}`}>
            New enrollment token
          </button>
        )}
      </div>
      {tokens.error && <ErrorNote error={tokens.error} onRetry={tokens.reload} />}
      {!tokens.data ? (
        !tokens.error && <Loading what="enrollment tokens" />
      ) : list.length === 0 ? (
        <p className="muted tree-empty">No enrollment tokens for this site yet.</p>
      ) : (
        <Table label={`Enrollment tokens of ${siteName}`} columns={['Token', 'Created', 'Expires', 'Status', 'Used by']} actions compact>
          {list.map((t) => {
            const state = tokenState(t, now);
            const badge = STATE_BADGE[state];
            return (
              <tr key={t.id} data-token-id={t.id} data-token-state={state} className={state === 'unused' ? undefined : 'row-muted'}>
                <td data-label="Token" className="mono">
                  {t.id}
                </td>
                <td data-label="Created">{dateTime(t.createdAt)}</td>
                <td data-label="Expires">
                  {dateTime(t.expiresAt)}
                  {state === 'unused' && (
                    <span className="sub muted">
                      in <ExpiresIn iso={t.expiresAt} now={now} />
                    </span>
                  )}
                </td>
                <td data-label="Status">
                  <Badge tone={badge.tone}>{badge.label}</Badge>
                  {t.revokedAt ? (
                    <span className="sub muted">
                      <RelativeTime iso={t.revokedAt} />
                    </span>
                  ) : t.usedAt ? (
                    <span className="sub muted">
                      <RelativeTime iso={t.usedAt} />
                    </span>
                  ) : null}
                </td>
                <td data-label="Used by">
                  <UsedBy token={t} />
                </td>
                <td data-label="Actions" className={canWrite && state === 'unused' ? 'actions-cell' : 'actions-cell empty-cell'}>
                  {canWrite && state === 'unused' && (
                    <button type="button" className="btn btn-small btn-danger-outline" onClick={() => setRevoking(t)} aria-label={`Revoke enrollment token ${t.id}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </Table>
      )}
      {revoking && (
        <ConfirmDialog
          title="Revoke enrollment token?"
          confirmLabel="Revoke token"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await api.del(`/enrollment-tokens/${encodeURIComponent(revoking.id)}`);
            tokens.setData((prev) => prev?.map((t) => (t.id === revoking.id ? { ...t, revokedAt: new Date().toISOString() } : t)) ?? null);
            tokens.reload();
          }}
        >
          <p>
            Token <span className="mono">{revoking.id}</span> of {siteName} (expires {dateTime(revoking.expiresAt)}) stops working at once: an
            agent started with it is refused. Servers that already enrolled are not affected.
          </p>
        </ConfirmDialog>
      )}
      {issuing && <NewAgentDialog siteId={siteId} onIssued={tokens.reload} onClose={() => setIssuing(false)} />}
    </div>
  );
}

/** "42 min" / "6 days": the time left on an unused token. */
function ExpiresIn({ iso, now }: { iso: string; now: number }) {
  const s = Math.max(0, Math.round((Date.parse(iso) - now) / 1000));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const text = s < 60 ? `${s} s` : m < 60 ? `${m} min` : h < 48 ? `${h} h` : `${Math.floor(h / 24)} days`;
  return <time dateTime={iso}>{text}</time>;
}
