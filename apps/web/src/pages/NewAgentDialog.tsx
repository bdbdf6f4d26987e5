import { useEffect, useState, type FormEvent } from 'react';
import { enrollmentTokenCreateSchema, isLoopbackUrl } from '@caddyfleet/protocol';
import { api, errorMessage } from '../api/client';
import { StatusBadge } from '../components/Badges';
import { SecretBox } from '../components/CopyButton';
import { Field } from '../components/Field';
import { Modal } from '../components/Modal';
import { SiteSelect } from '../components/SiteSelect';
import { ErrorNote, Loading, Spinner } from '../components/States';
import { useEnrollmentTokens, tokenState } from '../hooks/useEnrollmentTokens';
import { useHierarchy } from '../hooks/useHierarchy';
import { useLiveNodes } from '../hooks/useLiveNodes';
import { useNow } from '../hooks/useNow';
import { dateTime } from '../lib/format';
import { Link } from '../lib/router';
import { DialogClose, FormFooter } from '../components/FormFooter';

interface Issued {
  /** The token's id: its `usedByNodeId` names the node that enrolled with it. */
  id: string;
  token: string;
  expiresAt: string;
  /** The one line to run as root on the new host, from the API (it knows the controller's public URL). */
  command: string;
  publicUrl: string;
  siteId: string;
  sitePath: string;
}

const TTLS = [
  { seconds: 3600, label: '1 hour' },
  { seconds: 24 * 3600, label: '1 day' },
  { seconds: 7 * 24 * 3600, label: '7 days' },
];


/** Follows the issued token (SSE `node` events of new nodes in the site, plus a slow poll) until a node spends it. */
function WaitForAgent({ issued }: { issued: Issued }) {
  const live = useLiveNodes();
  const now = useNow();
  // Polls until the outcome is known (spent, revoked or expired); the SSE feed usually answers first.
  const [settled, setSettled] = useState(false);
  const tokens = useEnrollmentTokens(issued.siteId, settled ? 0 : 3000);
  const token = tokens.data?.find((t) => t.id === issued.id);
  const nodeId = token?.usedByNodeId ?? null;
  const node = nodeId ? live.byId(nodeId) : undefined;
  const state = token ? tokenState(token, now) : null;
  const outcome = nodeId !== null || state === 'revoked' || state === 'expired';
  useEffect(() => {
    if (outcome) setSettled(true);
  }, [outcome]);

  if (state === 'revoked' && !nodeId) {
    return (
      <p className="alert alert-warn" role="status" data-testid="enrolled-node">
        This token was revoked before an agent used it. Close this dialog and create a new one.
      </p>
    );
  }
  if (state === 'expired') {
    return (
      <p className="alert alert-warn" role="status" data-testid="enrolled-node">
        This token expired before an agent used it. Close this dialog and create a new one.
      </p>
    );
  }
  if (!nodeId) {
    return (
      <div className="waiting" aria-live="polite">
        <Spinner label="Waiting for the agent to connect…" />
        {tokens.error && <p className="muted">Could not check the token: {tokens.error} (retrying)</p>}
      </div>
    );
  }
  if (!node) {
    return (
      <div className="alert alert-info" aria-live="polite" data-testid="enrolled-node">
        <Spinner label="An agent used the token; loading its server…" />
      </div>
    );
  }
  return (
    <div className={node.status === 'online' ? 'alert alert-ok' : 'alert alert-info'} aria-live="polite" data-testid="enrolled-node" data-node-id={node.id}>
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

/**
 * "New agent": pick a site → one-time enrollment token and the command to run → waits live for the node that
 * spends this very token (its `usedByNodeId`). With `siteId` (from a site's "New enrollment token"), the site
 * is fixed. `onIssued` is told when the token exists, e.g. to refresh a token list.
 */
export function NewAgentDialog({ onClose, siteId: fixedSite, onIssued }: { onClose: () => void; siteId?: string; onIssued?: () => void }) {
  const { siteOptions, error, reload } = useHierarchy();
  const [siteId, setSiteId] = useState(fixedSite ?? '');
  const [ttl, setTtl] = useState(3600);
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [issued, setIssued] = useState<Issued | null>(null);
  const chosen = siteId || siteOptions?.[0]?.site.id || '';
  const chosenPath = siteOptions?.find((s) => s.site.id === chosen)?.path ?? chosen;

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
      const res = await api.post<{ id: string; token: string; expiresAt: string; command: string; publicUrl: string }>(
        `/sites/${encodeURIComponent(chosen)}/enrollment-tokens`,
        body.data,
      );
      setIssued({ ...res, siteId: chosen, sitePath: chosenPath });
      onIssued?.();
    } catch (err) {
      setFormError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={fixedSite ? 'New enrollment token' : 'New agent'} onClose={onClose} wide>
      {issued ? (
        <div className="stack">
          <p>
            Run this one line as root on the new server (Debian or Ubuntu, x86-64). It downloads the agent from this controller, checks it,
            installs Caddy when missing and a systemd service, and joins. The server binds ports 80 and 443. The token works <strong>once</strong>{' '}
            and expires {dateTime(issued.expiresAt)}; it is shown only now.
          </p>
          {isLoopbackUrl(issued.publicUrl) && (
            <p className="alert alert-warn" role="alert" data-testid="loopback-warning">
              This controller's address is {issued.publicUrl}, a loopback address: other servers cannot reach it. Start the controller with{' '}
              <code>--public-url https://…</code> (the address agents use), or open the dashboard at that address, and create a
              new token.
            </p>
          )}
          <SecretBox label="Command" value={issued.command} multiline />
          <SecretBox label="Enrollment token" value={issued.token} />
          <p className="muted">
            The server will join the site {issued.sitePath}. Token id <span className="mono">{issued.id}</span>
            {fixedSite ? (
              <>: it is listed below, where it can be revoked until it is used.</>
            ) : (
              <>
                : it is listed under the site on the <Link to={`/sites?site=${encodeURIComponent(issued.siteId)}`}>Sites</Link> page, where it can be
                revoked until it is used.
              </>
            )}
          </p>
          <WaitForAgent issued={issued} />
          <DialogClose onClose={onClose} />
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
          <p>
            The agent runs next to Caddy on each server and keeps it in sync with this controller.{' '}
            {fixedSite ? 'The token enrolls one new server into this site.' : 'Pick the site it belongs to.'}
          </p>
          {fixedSite ? (
            <p>
              Site: <strong>{chosenPath}</strong>
            </p>
          ) : (
            <Field label="Site">
              <SiteSelect options={siteOptions} value={chosen} onChange={setSiteId} />
            </Field>
          )}
          <Field label="Token expires after" hint="Only the enrollment token expires; the agent keeps its own key afterwards.">
            <select value={ttl} onChange={(e) => setTtl(Number(e.target.value))}>
              {TTLS.map((t) => (
                <option key={t.seconds} value={t.seconds}>
                  {t.label}
                </option>
              ))}
            </select>
          </Field>
          <FormFooter error={formError} busy={busy} onCancel={onClose} busyLabel="Creating…" submitLabel="Create enrollment token" />
        </form>
      )}
    </Modal>
  );
}
