import { useState, type FormEvent } from 'react';
import { enrollmentTokenCreateSchema } from '@caddyfleet/protocol';
import { api, errorMessage } from '../api/client';
import type { FleetNode } from '../api/types';
import { StatusBadge } from '../components/Badges';
import { SecretBox } from '../components/CopyButton';
import { Field } from '../components/Field';
import { Modal } from '../components/Modal';
import { ErrorNote, Loading, Spinner } from '../components/States';
import { useHierarchy } from '../hooks/useHierarchy';
import { useLiveNodes } from '../hooks/useLiveNodes';
import { dateTime } from '../lib/format';
import { Link } from '../lib/router';

interface Issued {
  token: string;
  expiresAt: string;
  siteId: string;
  sitePath: string;
  /** Nodes that existed when the token was made: the new agent is the one that is not among them. */
  knownIds: Set<string>;
}

const TTLS = [
  { seconds: 3600, label: '1 hour' },
  { seconds: 24 * 3600, label: '1 day' },
  { seconds: 7 * 24 * 3600, label: '7 days' },
];

export function agentCommand(token: string): string {
  return `npx caddyfleet agent --controller ${window.location.origin} --token ${token} --state-dir /var/lib/caddyfleet-agent --caddy-bin /usr/bin/caddy`;
}

function WaitForAgent({ issued, nodes }: { issued: Issued; nodes: FleetNode[] | null }) {
  const node = (nodes ?? []).find((n) => n.siteId === issued.siteId && !issued.knownIds.has(n.id));
  if (!node) {
    return (
      <div className="waiting" aria-live="polite">
        <Spinner label="Waiting for the agent to connect…" />
      </div>
    );
  }
  return (
    <div className={node.status === 'online' ? 'alert alert-ok' : 'alert alert-info'} aria-live="polite" data-testid="enrolled-node">
      <span>
        <strong>{node.name}</strong> ({node.hostname}) enrolled. <StatusBadge status={node.status} />
      </span>
      {node.status === 'online' ? (
        <span>It is online and ready for routes.</span>
      ) : (
        <Spinner label="Waiting for it to come online…" />
      )}
      <Link to={`/servers/${encodeURIComponent(node.id)}`}>Open {node.name}</Link>
    </div>
  );
}

/** "New agent": pick a site → one-time enrollment token and the command to run → waits live for the node. */
export function NewAgentDialog({ onClose }: { onClose: () => void }) {
  const { siteOptions, error, reload } = useHierarchy();
  const live = useLiveNodes();
  const [siteId, setSiteId] = useState('');
  const [ttl, setTtl] = useState(3600);
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [issued, setIssued] = useState<Issued | null>(null);
  const chosen = siteId || siteOptions?.[0]?.site.id || '';

  const create = async (e: FormEvent) => {
    e.preventDefault();
    const body = enrollmentTokenCreateSchema.safeParse({ ttlSeconds: ttl });
    if (!chosen || !body.success) {
      setFormError(chosen ? 'invalid expiry' : 'choose a site');
      return;
    }
    setBusy(true);
    setFormError(null);
    try {
      const knownIds = new Set((live.nodes ?? []).map((n) => n.id));
      const res = await api.post<{ id: string; token: string; expiresAt: string }>(`/sites/${encodeURIComponent(chosen)}/enrollment-tokens`, body.data);
      const sitePath = siteOptions?.find((s) => s.site.id === chosen)?.path ?? chosen;
      setIssued({ token: res.token, expiresAt: res.expiresAt, siteId: chosen, sitePath, knownIds });
    } catch (err) {
      setFormError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title="New agent" onClose={onClose} wide>
      {issued ? (
        <div className="stack">
          <p>
            Run this as root on the new server (it needs Node.js 20 and Caddy, and binds ports 80 and 443). The token works{' '}
            <strong>once</strong> and expires {dateTime(issued.expiresAt)}; it is shown only now.
          </p>
          <SecretBox label="Command" value={agentCommand(issued.token)} multiline />
          <SecretBox label="Enrollment token" value={issued.token} />
          <p className="muted">The server will join the site {issued.sitePath}.</p>
          <WaitForAgent issued={issued} nodes={live.nodes} />
          <div className="form-actions">
            <button type="button" className="btn" onClick={onClose}>
              Close
            </button>
          </div>
        </div>
      ) : error ? (
        <ErrorNote error={error} onRetry={reload} />
      ) : !siteOptions ? (
        <Loading what="sites" />
      ) : siteOptions.length === 0 ? (
        <p>
          There is no site yet. <Link to="/sites">Create a site</Link> first: every server belongs to one.
        </p>
      ) : (
        <form onSubmit={(e) => void create(e)} className="stack" noValidate>
          <p>The agent runs next to Caddy on each server and keeps it in sync with this controller. Pick the site it belongs to.</p>
          <Field label="Site">
            <select value={chosen} onChange={(e) => setSiteId(e.target.value)}>
              {siteOptions.map((s) => (
                <option key={s.site.id} value={s.site.id}>
                  {s.path}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Token expires after" hint="Only the enrollment token expires; the agent keeps its own key afterwards.">
            <select value={ttl} onChange={(e) => setTtl(Number(e.target.value))}>
              {TTLS.map((t) => (
                <option key={t.seconds} value={t.seconds}>
                  {t.label}
                </option>
              ))}
            </select>
          </Field>
          {formError && (
            <p className="alert alert-error" role="alert">
              {formError}
            </p>
          )}
          <div className="form-actions">
            <button type="button" className="btn" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className="btn btn-primary" disabled={busy}>
              {busy ? 'Creating…' : 'Create enrollment token'}
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}
