import { useState, type FormEvent, type ReactNode } from 'react';
import { nameSchema, nodePatchSchema } from '@caddyfleet/protocol';
import { ApiError, api, errorMessage } from '../api/client';
import type { AuditEntry, FleetNode, Route } from '../api/types';
import { AuditList } from '../components/AuditList';
import { RouteBadges, StatusBadge } from '../components/Badges';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { CaddyModules, NodeCertificates } from '../components/NodeCertificates';
import { SyncState } from '../components/NodeTable';
import { Field } from '../components/Field';
import { Modal } from '../components/Modal';
import { NameForm } from '../components/NameForm';
import { RelativeTime } from '../components/RelativeTime';
import { SiteSelect } from '../components/SiteSelect';
import { EmptyState, ErrorNote, Loading } from '../components/States';
import { useApi, useRefreshOnRevision } from '../hooks/useApi';
import { useHierarchy, type SiteOption } from '../hooks/useHierarchy';
import { upsertNode, useLiveNodes } from '../hooks/useLiveNodes';
import { usePageTitle, useSession } from '../lib/auth';
import { KIND_INFO, dateTime, nodeLabel } from '../lib/format';
import { routeTarget, routeTitle } from '../lib/routes';
import { Link, navigate } from '../lib/router';
import { DialogClose, FormFooter } from '../components/FormFooter';
import type { NodeDeleted } from '@caddyfleet/protocol';
import { DeletedDialog, ProvisioningSection, ReprovisionDialog } from './ServerProvisioning';

function Facts({ node, sitePath }: { node: FleetNode; sitePath: string }) {
  const rows: [string, ReactNode][] = [
    ['Status', <StatusBadge status={node.status} />],
    ['Hostname', <span className="mono">{node.hostname}</span>],
    ['Site', <Link to={`/sites?site=${encodeURIComponent(node.siteId)}`}>{sitePath || node.siteId}</Link>],
    ['Caddy version', node.caddyVersion ?? '—'],
    ['Caddy modules', <CaddyModules node={node} />],
    ['Agent version', node.agentVersion ?? '—'],
    ['Last seen', <RelativeTime iso={node.lastSeenAt} />],
    ['Active routes', node.routeCount],
    ['Certificates', node.certCount],
    ['In sync', <SyncState node={node} />],
    ['Registered', dateTime(node.createdAt)],
  ];
  if (node.sshHostKeySha256) rows.push(['SSH host key', <span className="mono">{node.sshHostKeySha256}</span>]);
  if (node.revokedAt) rows.push(['Agent key revoked', <time dateTime={node.revokedAt}>{dateTime(node.revokedAt)}</time>]);
  return (
    <dl className="facts">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** What the controller writes to `lastError` when it revokes a node's key (shown once, as the revoked note). */
const REVOKED_ERROR = 'agent key revoked';

/**
 * "Move to site": a site picker (tenant / organization / site) whose button is the confirmation. The node keeps
 * its routes; they follow it into the new site (`PATCH /nodes/:id {siteId}`).
 */
function MoveDialog({ node, siteOptions, onClose, onMoved }: { node: FleetNode; siteOptions: SiteOption[] | null; onClose: () => void; onMoved: (node: FleetNode) => void }) {
  const [target, setTarget] = useState('');
  const [busy, setBusy] = useState(false);
  const [fieldError, setFieldError] = useState<string | undefined>();
  const [error, setError] = useState<string | null>(null);
  const name = nodeLabel(node, node.id);
  const current = siteOptions?.find((s) => s.site.id === node.siteId);
  const others = (siteOptions ?? []).filter((s) => s.site.id !== node.siteId);
  const chosen = others.find((s) => s.site.id === target);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body = nodePatchSchema.safeParse({ siteId: target });
    if (!target || !body.success) {
      setFieldError('choose the site to move it to');
      return;
    }
    setBusy(true);
    setError(null);
    setFieldError(undefined);
    try {
      onMoved(await api.patch<FleetNode>(`/nodes/${encodeURIComponent(node.id)}`, body.data));
      onClose();
    } catch (err) {
      const onField = err instanceof ApiError ? err.fieldDetails.find((d) => d.path === 'siteId') : undefined;
      if (onField) setFieldError(onField.message);
      else setError(errorMessage(err));
      setBusy(false);
    }
  };

  return (
    <Modal title={`Move ${name} to another site?`} onClose={onClose}>
      {!siteOptions ? (
        <Loading what="sites" />
      ) : others.length === 0 ? (
        <div className="stack">
          <p>
            There is no other site to move it to. <Link to="/sites">Create a site</Link> first.
          </p>
          <DialogClose onClose={onClose} />
        </div>
      ) : (
        <form className="stack" onSubmit={(e) => void submit(e)} noValidate>
          <p>
            <strong>{name}</strong> is in <strong>{current?.path ?? node.siteId}</strong>.
          </p>
          <Field label="New site" error={fieldError}>
            <SiteSelect options={others} value={target} onChange={setTarget} placeholder="Choose a site…" />
          </Field>
          <p className="muted">
            Its routes move with it and it keeps serving them: only the site it is filed under changes. Its enrollment token stays listed under
            the old site.
          </p>
          <FormFooter error={error} busy={busy} disabled={!chosen} onCancel={onClose} busyLabel="Moving…" submitLabel={chosen ? `Move to ${chosen.site.name}` : 'Move'} />
        </form>
      )}
    </Modal>
  );
}

function NodeRoutes({ nodeId }: { nodeId: string }) {
  const routes = useApi<Route[]>('/routes', { nodeId });
  useRefreshOnRevision(routes.reload, 300, nodeId);
  if (routes.error && !routes.data) return <ErrorNote error={routes.error} onRetry={routes.reload} />;
  if (!routes.data) return <Loading what="routes" />;
  if (!routes.data.length) {
    return (
      <EmptyState title="No routes on this server yet.">
        <p>
          Add a <Link to={`/proxy-hosts?node=${encodeURIComponent(nodeId)}`}>proxy host</Link> or a{' '}
          <Link to={`/redirection-hosts?node=${encodeURIComponent(nodeId)}`}>redirection host</Link> and choose this server.
        </p>
      </EmptyState>
    );
  }
  return (
    <ul className="route-list">
      {routes.data.map((r) => (
        <li key={r.id}>
          <Link to={`${KIND_INFO[r.kind].path}?node=${encodeURIComponent(nodeId)}`} className="strong">
            {routeTitle(r)}
          </Link>{' '}
          <span className="muted">{routeTarget(r)}</span> <span className="badge badge-neutral">{KIND_INFO[r.kind].singular}</span>
          {!r.enabled && <span className="badge badge-warn">disabled</span>} <RouteBadges route={r} />
          {r.lastError && <p className="warn-text">⚠ {r.lastError}</p>}
        </li>
      ))}
    </ul>
  );
}

export function ServerDetailPage({ id }: { id: string }) {
  const { canWrite } = useSession();
  const live = useLiveNodes();
  const { siteOptions } = useHierarchy();
  const node = live.byId(id);
  usePageTitle(node ? nodeLabel(node, id) : 'Server');
  const events = useApi<AuditEntry[]>('/audit', { entityId: id, limit: 20 });
  const [dialog, setDialog] = useState<'revoke' | 'delete' | 'move' | 'reprovision' | null>(null);
  const [renaming, setRenaming] = useState(false);
  const [provisionRun, setProvisionRun] = useState(0);
  const [deleted, setDeleted] = useState<{ name: string; result: NodeDeleted } | null>(null);

  if (deleted) return <DeletedDialog name={deleted.name} result={deleted.result} onClose={() => navigate('/servers')} />;
  if (!live.nodes) return live.error ? <ErrorNote error={live.error} onRetry={() => void live.reload()} /> : <Loading what="the server" />;
  if (!node) {
    return (
      <EmptyState title="This server does not exist (any more)." action={<Link to="/servers" className="btn">Back to servers</Link>}>
        <p>It may have been deleted.</p>
      </EmptyState>
    );
  }
  const sitePath = siteOptions?.find((s) => s.site.id === node.siteId)?.path ?? '';
  const revoked = node.revokedAt !== null;

  return (
    <div className="page">
      <p className="crumbs">
        <Link to="/servers">Servers</Link> / {nodeLabel(node, id)}
      </p>
      <div className="page-head">
        <div>
          {renaming ? (
            <NameForm
              label="Server name"
              initial={node.name}
              schema={nameSchema}
              submitLabel="Rename"
              onCancel={() => setRenaming(false)}
              onSubmit={async (name) => {
                upsertNode(await api.patch<FleetNode>(`/nodes/${encodeURIComponent(id)}`, { name }));
                setRenaming(false);
                events.reload();
              }}
            />
          ) : (
            <h1>
              {nodeLabel(node, id)} <StatusBadge status={node.status} />
            </h1>
          )}
          <p className="muted mono">{node.hostname}</p>
        </div>
        {canWrite && !renaming && (
          <div className="actions">
            <button type="button" className="btn" onClick={() => setRenaming(true)}>
              Rename
            </button>
            <button type="button" className="btn" onClick={() => setDialog('move')}>
              Move to site
            </button>
            {!node.isLocal && (
              <>
                <button type="button" className="btn" onClick={() => setDialog('reprovision')} disabled={node.status === 'provisioning'}>
                  Re-provision
                </button>
                {!revoked && (
                  <button type="button" className="btn btn-danger-outline" onClick={() => setDialog('revoke')}>
                    Revoke
                  </button>
                )}
                <button type="button" className="btn btn-danger-outline" onClick={() => setDialog('delete')}>
                  Delete
                </button>
              </>
            )}
          </div>
        )}
      </div>
      {revoked && (
        <div className="alert alert-warn" role="status" data-testid="revoked-note">
          <strong>Agent key revoked</strong>
          <span>
            <time dateTime={node.revokedAt!}>{dateTime(node.revokedAt!)}</time> (<RelativeTime iso={node.revokedAt} />)
          </span>
          <p>
            This server can no longer connect. To bring it back, create a new enrollment token for its site (
            <Link to={`/sites?site=${encodeURIComponent(node.siteId)}`}>Sites → Enrollment tokens</Link> or{' '}
            <Link to="/servers">Servers → New agent</Link>) and run the agent on it with a fresh <code>--state-dir</code>; or delete it to remove
            its routes.
          </p>
        </div>
      )}
      {node.lastError && !(revoked && node.lastError === REVOKED_ERROR) && (
        <div className={node.status === 'error' ? 'alert alert-error' : 'alert alert-warn'} role="status">
          <strong>Last error</strong> <span>{node.lastError}</span>
        </div>
      )}
      <section className="card" aria-labelledby="sd-facts">
        <h2 id="sd-facts">Details</h2>
        <Facts node={node} sitePath={sitePath} />
      </section>
      {!node.isLocal && (
        <section className="card" aria-labelledby="sd-provisioning">
          <h2 id="sd-provisioning">Provisioning</h2>
          <ProvisioningSection node={node} generation={provisionRun} />
        </section>
      )}
      <section className="card" aria-labelledby="sd-routes">
        <h2 id="sd-routes">Routes on this server</h2>
        <NodeRoutes nodeId={id} />
      </section>
      <section className="card" aria-labelledby="sd-certs">
        <h2 id="sd-certs">Certificates</h2>
        <NodeCertificates node={node} />
      </section>
      <section className="card" aria-labelledby="sd-events">
        <h2 id="sd-events">Recent events</h2>
        {events.error && !events.data ? (
          <ErrorNote error={events.error} onRetry={events.reload} />
        ) : !events.data ? (
          <Loading what="events" />
        ) : events.data.length ? (
          <AuditList entries={events.data} />
        ) : (
          <p className="muted">No events recorded for this server yet.</p>
        )}
      </section>
      {dialog === 'revoke' && (
        <ConfirmDialog
          title={`Revoke ${node.name}?`}
          confirmLabel="Revoke agent key"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            upsertNode(await api.post<FleetNode>(`/nodes/${encodeURIComponent(id)}/revoke`));
            events.reload();
          }}
        >
          <p>
            The agent on <strong>{node.hostname}</strong> is disconnected at once and its key stops working. Caddy keeps serving its last
            configuration. To bring the server back, enroll it again with a new token.
          </p>
        </ConfirmDialog>
      )}
      {dialog === 'move' && (
        <MoveDialog
          node={node}
          siteOptions={siteOptions}
          onClose={() => setDialog(null)}
          onMoved={(moved) => {
            upsertNode(moved);
            events.reload();
          }}
        />
      )}
      {dialog === 'delete' && (
        <ConfirmDialog
          title={`Delete ${node.name}?`}
          confirmLabel="Delete server"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            setDeleted({ name: node.name, result: await api.del<NodeDeleted>(`/nodes/${encodeURIComponent(id)}`) });
          }}
        >
          <p>
            This removes the server from the controller and revokes its agent key. Its routes are kept: they move to the local server. You get
            the commands that remove the agent from the host.
          </p>
        </ConfirmDialog>
      )}
      {dialog === 'reprovision' && <ReprovisionDialog node={node} onClose={() => setDialog(null)} onStarted={() => setProvisionRun((n) => n + 1)} />}
    </div>
  );
}
