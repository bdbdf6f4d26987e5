import { useState } from 'react';
import { routeServing, type RouteServing } from '@caddyfleet/protocol';
import { api } from '../api/client';
import type { FleetNode, Route, RouteKind } from '../api/types';
import { Badge, RouteBadges } from '../components/Badges';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { DockerSources } from '../components/DockerSources';
import { RouteForm } from '../components/RouteForm';
import { UpstreamHealthList } from '../components/UpstreamHealth';
import { EmptyState, ErrorNote, Loading } from '../components/States';
import { Table, type Column } from '../components/Table';
import { useApi, useRefreshOnRevision } from '../hooks/useApi';
import { useLiveNodes } from '../hooks/useLiveNodes';
import { useNodeFilter } from '../hooks/useNodeFilter';
import { useOriginFilter } from '../hooks/useOriginFilter';
import { usePageTitle, useSession } from '../lib/auth';
import { KIND_INFO, nodeLabel } from '../lib/format';
import { Link } from '../lib/router';
import { TLS_LABEL, readOnlyReason, routeTarget, routeTitle, upstreamLabel } from '../lib/routes';

function Target({ route, node }: { route: Route; node: FleetNode | undefined }) {
  if (route.kind === 'redirect' && route.redirect) {
    return (
      <>
        <span className="mono">{route.redirect.to}</span>
        <span className="sub muted">
          {route.redirect.status}
          {route.redirect.preservePath ? ' · keeps the path' : ' · drops the path'}
        </span>
      </>
    );
  }
  if (route.kind === 'proxy') return <UpstreamHealthList route={route} node={node} />;
  if (route.kind === 'stream') {
    return (
      <ul className="lines mono">
        {route.upstreams.map((u, i) => (
          <li key={i}>{upstreamLabel(u)}</li>
        ))}
      </ul>
    );
  }
  return <span className="muted">{routeTarget(route)}</span>;
}

const SERVING_BADGE: Record<RouteServing, { tone: 'neutral' | 'info' | 'warn' | 'ok' | 'bad'; label: string }> = {
  served: { tone: 'ok', label: 'Served' },
  pending: { tone: 'info', label: 'Applying…' },
  node_offline: { tone: 'warn', label: 'Waiting' },
  never_connected: { tone: 'warn', label: 'Never connected' },
  problem: { tone: 'bad', label: 'Not served' },
  disabled: { tone: 'warn', label: 'Disabled' },
  unknown_node: { tone: 'bad', label: 'No server' },
};

/** Served or not, and why: a route whose server never connected must not look healthy. */
function ServingBadge({ route, node }: { route: Route; node: FleetNode | undefined }) {
  const serving = routeServing(route, node);
  const badge = SERVING_BADGE[serving.state];
  return (
    <Badge tone={badge.tone} title={serving.text}>
      {badge.label}
    </Badge>
  );
}

function RouteRow({ route, node, canWrite, onEdit, onDelete }: { route: Route; node: FleetNode | undefined; canWrite: boolean; onEdit: () => void; onDelete: () => void }) {
  const ro = readOnlyReason(route, node);
  const cols = route.kind;
  return (
    <tr data-route-id={route.id} className={route.enabled ? undefined : 'row-muted'}>
      <td data-label={cols === 'stream' ? 'Listen' : 'Domains'}>
        <span className="strong">{routeTitle(route)}</span>
        <RouteBadges route={route} />
        <DockerSources route={route} />
        {route.lastError && (
          <p className="warn-text" role="note">
            ⚠ {route.lastError}
          </p>
        )}
      </td>
      {cols !== 'dead' && (
        <td data-label={cols === 'redirect' ? 'Redirects to' : 'Forwards to'}>
          <Target route={route} node={node} />
        </td>
      )}
      <td data-label="Server">
        <Link to={`/servers/${encodeURIComponent(route.nodeId ?? 'local')}`} className="nowrap">
          {nodeLabel(node, route.nodeId)}
        </Link>
      </td>
      {cols !== 'stream' && <td data-label="TLS">{TLS_LABEL[route.tls]}</td>}
      <td data-label="Status" data-serving={routeServing(route, node).state}>
        <ServingBadge route={route} node={node} />
      </td>
      <td data-label="Actions" className="actions-cell">
        {ro ? (
          <span className="readonly-note">{ro}</span>
        ) : canWrite ? (
          <span className="actions">
            <button type="button" className="btn btn-small" onClick={onEdit} aria-label={`Edit ${routeTitle(route)}`}>
              Edit
            </button>
            <button type="button" className="btn btn-small btn-danger-outline" onClick={onDelete} aria-label={`Delete ${routeTitle(route)}`}>
              Delete
            </button>
          </span>
        ) : null}
      </td>
    </tr>
  );
}

/** The headings of the cells RouteRow renders for this kind, in its order. */
function routeColumns(kind: RouteKind): Column[] {
  return [
    kind === 'stream' ? 'Listen' : 'Domains',
    ...(kind === 'dead' ? [] : [kind === 'redirect' ? 'Redirects to' : 'Forwards to']),
    'Server',
    ...(kind === 'stream' ? [] : ['TLS']),
    'Status',
  ];
}

const ORIGIN_WORD: Record<Route['origin'], string> = { central: 'central', local: 'agent-local', docker: 'Docker' };

/** Proxy, redirection, stream or 404 hosts: list, create, edit, delete; filtered by server and origin. */
export function RoutesPage({ kind }: { kind: RouteKind }) {
  const info = KIND_INFO[kind];
  usePageTitle(info.title);
  const { canWrite } = useSession();
  const [filter, setFilter] = useNodeFilter();
  const [origin, setOrigin] = useOriginFilter();
  const live = useLiveNodes();
  const routes = useApi<Route[]>('/routes', { kind, nodeId: filter, origin });
  useRefreshOnRevision(routes.reload, 300, filter);
  const [editing, setEditing] = useState<Route | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Route | null>(null);
  const filterName = filter ? nodeLabel(live.byId(filter), filter) : null;
  const defaultNodeId = filter && filter !== 'local' ? filter : '';

  const addButton = canWrite && (
    <button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>
      Add {info.singular}
    </button>
  );

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>{info.title}</h1>
          <p className="muted">{info.blurb}</p>
        </div>
        <div className="page-head-actions">
          <label className="origin-filter">
            Origin{' '}
            <select value={origin ?? ''} onChange={(e) => setOrigin((e.target.value || null) as Route['origin'] | null)}>
              <option value="">All</option>
              <option value="central">Central</option>
              <option value="local">Agent-local</option>
              <option value="docker">Docker</option>
            </select>
          </label>
          {addButton}
        </div>
      </div>
      {filterName && (
        <p className="filter-note">
          Showing {info.title.toLowerCase()} on {filterName}.{' '}
          <button type="button" className="link-btn" onClick={() => setFilter(null)}>
            Show all servers
          </button>
        </p>
      )}
      {routes.error && <ErrorNote error={routes.error} onRetry={routes.reload} />}
      {!routes.data ? (
        !routes.error && <Loading what={info.title.toLowerCase()} />
      ) : routes.data.length === 0 ? (
        <EmptyState
          title={`No ${origin ? `${ORIGIN_WORD[origin]} ` : ''}${info.title.toLowerCase()}${filterName ? ` on ${filterName}` : origin ? '' : ' yet'}.`}
          action={addButton}
        >
          <p>{canWrite ? `Use “Add ${info.singular}” to create one.` : 'An administrator can create them.'}</p>
        </EmptyState>
      ) : (
        <Table label={info.title} columns={routeColumns(kind)} actions>
          {routes.data.map((r) => (
            <RouteRow key={r.id} route={r} node={live.byId(r.nodeId)} canWrite={canWrite} onEdit={() => setEditing(r)} onDelete={() => setDeleting(r)} />
          ))}
        </Table>
      )}
      {editing && (
        <RouteForm
          kind={kind}
          route={editing === 'new' ? null : editing}
          defaultNodeId={defaultNodeId}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            routes.reload();
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete ${info.singular}?`}
          confirmLabel="Delete"
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.del(`/routes/${encodeURIComponent(deleting.id)}`);
            routes.setData((prev) => prev?.filter((r) => r.id !== deleting.id) ?? null);
            routes.reload();
          }}
        >
          <p>
            <strong>{routeTitle(deleting)}</strong> will stop being served by {nodeLabel(live.byId(deleting.nodeId), deleting.nodeId)} as soon as the
            server applies the change.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}
