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

export function RouteBadges({ route }: { route: Route }) {
  return (
    <span className="badges">
      <Badge tone={route.scope === 'exclusive' ? 'neutral' : 'info'} title="Scope">
        {route.scope === 'exclusive' ? 'exclusive' : 'local only'}
      </Badge>
      <Badge tone={route.origin === 'central' ? 'neutral' : 'info'} title="Origin">
        {ORIGIN_LABEL[route.origin]}
      </Badge>
    </span>
  );
}
