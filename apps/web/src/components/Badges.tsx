import type { NodeStatus, Route } from '../api/types';
import { STATUS_LABEL } from '../lib/format';

export function StatusBadge({ status }: { status: NodeStatus }) {
  return (
    <span className={`badge status-${status}`} data-status={status}>
      <span className="dot" aria-hidden="true" />
      {STATUS_LABEL[status]}
    </span>
  );
}

export function Badge({ tone = 'neutral', children, title }: { tone?: 'neutral' | 'info' | 'warn' | 'ok' | 'bad'; children: string; title?: string }) {
  return (
    <span className={`badge badge-${tone}`} title={title}>
      {children}
    </span>
  );
}

const ORIGIN_LABEL: Record<Route['origin'], string> = { central: 'Central', local: 'Agent-local', docker: 'Docker' };
const ORIGIN_TITLE: Record<Route['origin'], string> = {
  central: 'Created on this controller (dashboard, API or CLI) and pushed to its server.',
  local: 'Added on the server itself with “caddyfleet agent routes”; shown here read-only.',
  docker: 'Found from a Docker container’s labels on the server; shown here read-only.',
};

/** Where a route comes from and whether it can be changed here, in plain words with an explanation on hover. */
export function RouteBadges({ route }: { route: Route }) {
  return (
    <span className="badges">
      <Badge tone={route.origin === 'central' ? 'neutral' : 'info'} title={ORIGIN_TITLE[route.origin]}>
        {ORIGIN_LABEL[route.origin]}
      </Badge>
      {route.scope === 'local_only' && (
        <Badge tone="info" title="Managed on its server: change or remove it there. Here it is read-only.">
          read-only here
        </Badge>
      )}
    </span>
  );
}
