import { ROUTE_KINDS } from '@caddyfleet/protocol';
import type { AuditEntry, FleetNode, Route } from '../api/types';
import { AuditList } from '../components/AuditList';
import { StatusBadge } from '../components/Badges';
import { RelativeTime } from '../components/RelativeTime';
import { EmptyState, ErrorNote, Loading } from '../components/States';
import { useApi, useRefreshOnRevision } from '../hooks/useApi';
import { useLiveNodes } from '../hooks/useLiveNodes';
import { useNodeFilter } from '../hooks/useNodeFilter';
import { auditTouchesNode } from '../lib/audit';
import { usePageTitle } from '../lib/auth';
import { KIND_INFO, inSync, nodeLabel } from '../lib/format';
import { Link } from '../lib/router';

function StatTile({ label, value, tone, to }: { label: string; value: number; tone: string; to?: string }) {
  const body = (
    <>
      <span className="stat-value">{value}</span>
      <span className="stat-label">{label}</span>
    </>
  );
  return <li className={`stat stat-${tone}`}>{to ? <Link to={to}>{body}</Link> : body}</li>;
}

function NodeCounts({ nodes }: { nodes: FleetNode[] }) {
  const count = (...s: FleetNode['status'][]) => nodes.filter((n) => s.includes(n.status)).length;
  return (
    <ul className="stats" aria-label="Servers by status">
      <StatTile label="Online" value={count('online')} tone="ok" to="/servers" />
      <StatTile label="Offline" value={count('offline')} tone={count('offline') ? 'bad' : 'neutral'} to="/servers" />
      <StatTile label="Error" value={count('error')} tone={count('error') ? 'bad' : 'neutral'} to="/servers" />
      <StatTile label="Pending" value={count('pending', 'provisioning')} tone="neutral" to="/servers" />
    </ul>
  );
}

function RouteCounts({ routes }: { routes: Route[] }) {
  return (
    <ul className="stats" aria-label="Routes by kind">
      {ROUTE_KINDS.map((k) => (
        <StatTile key={k} label={KIND_INFO[k].title} value={routes.filter((r) => r.kind === k).length} tone="neutral" to={KIND_INFO[k].path} />
      ))}
    </ul>
  );
}

function Attention({ nodes }: { nodes: FleetNode[] }) {
  const failing = nodes.filter((n) => (n.status === 'offline' || n.status === 'error') && !n.isLocal);
  const behind = nodes.filter((n) => !inSync(n));
  if (!failing.length && !behind.length) {
    return <p className="ok-note">All servers are reachable and have applied their latest configuration.</p>;
  }
  return (
    <ul className="attention">
      {failing.map((n) => (
        <li key={`f-${n.id}`} className="attention-bad">
          <Link to={`/servers/${encodeURIComponent(n.id)}`}>{nodeLabel(n, n.id)}</Link> <StatusBadge status={n.status} />{' '}
          <span className="muted">
            last seen <RelativeTime iso={n.lastSeenAt} />
          </span>
          {n.lastError && <span className="attention-error">{n.lastError}</span>}
        </li>
      ))}
      {behind.map((n) => (
        <li key={`b-${n.id}`} className="attention-warn">
          <Link to={`/servers/${encodeURIComponent(n.id)}`}>{nodeLabel(n, n.id)}</Link>{' '}
          {n.status === 'online'
            ? `is applying the latest changes (revision ${n.appliedRevision} of ${n.desiredRevision})`
            : `has changes waiting (revision ${n.appliedRevision} of ${n.desiredRevision}); they are applied when its agent connects`}
        </li>
      ))}
    </ul>
  );
}

export function OverviewPage() {
  usePageTitle('Overview');
  const [filter] = useNodeFilter();
  const live = useLiveNodes();
  const routes = useApi<Route[]>('/routes', { nodeId: filter });
  useRefreshOnRevision(routes.reload, 300, filter);
  const audit = useApi<AuditEntry[]>('/audit', { limit: filter ? 200 : 8 });
  useRefreshOnRevision(audit.reload, 800);

  const nodes = (live.nodes ?? []).filter((n) => !filter || n.id === filter);
  const entries = (audit.data ?? []).filter((e) => !filter || auditTouchesNode(e, filter)).slice(0, 8);
  const scope = filter ? nodeLabel(live.byId(filter), filter) : 'all servers';

  return (
    <div className="page">
      <div className="page-head">
        <h1>Overview</h1>
        <p className="muted">Showing {scope}.</p>
      </div>
      <div className="grid-2">
        <section className="card" aria-labelledby="ov-servers">
          <h2 id="ov-servers">Servers</h2>
          {live.error && !live.nodes ? (
            <ErrorNote error={live.error} onRetry={() => void live.reload()} />
          ) : !live.nodes ? (
            <Loading what="servers" />
          ) : (
            <NodeCounts nodes={nodes} />
          )}
        </section>
        <section className="card" aria-labelledby="ov-routes">
          <h2 id="ov-routes">Routes</h2>
          {routes.error && !routes.data ? (
            <ErrorNote error={routes.error} onRetry={routes.reload} />
          ) : !routes.data ? (
            <Loading what="routes" />
          ) : (
            <RouteCounts routes={routes.data} />
          )}
        </section>
      </div>
      <section className="card" aria-labelledby="ov-attention">
        <h2 id="ov-attention">Needs attention</h2>
        {live.nodes ? <Attention nodes={nodes} /> : <Loading />}
        {live.nodes && live.nodes.length <= 1 && !filter && (
          <EmptyState
            title="Only the controller's local server is registered."
            action={
              <Link to="/servers" className="btn btn-primary">
                Add a server
              </Link>
            }
          >
            <p>Enroll an agent on each machine that runs Caddy: Servers → New agent gives you the command to run.</p>
          </EmptyState>
        )}
      </section>
      <section className="card" aria-labelledby="ov-audit">
        <div className="card-head">
          <h2 id="ov-audit">Latest activity</h2>
          <Link to="/audit">Full audit log</Link>
        </div>
        {audit.error && !audit.data ? (
          <ErrorNote error={audit.error} onRetry={audit.reload} />
        ) : !audit.data ? (
          <Loading what="activity" />
        ) : entries.length ? (
          <AuditList entries={entries} />
        ) : (
          <p className="muted">Nothing has happened here yet. Changes to servers, routes and sites will be listed here.</p>
        )}
      </section>
    </div>
  );
}
