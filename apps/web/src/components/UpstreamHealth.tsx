import type { FleetNode, Route } from '../api/types';
import { upstreamHealthLines, type UpstreamHealthState } from '../lib/upstreamHealth';
import { Badge } from './Badges';

const BADGE: Record<Exclude<UpstreamHealthState, 'unchecked'>, { tone: 'ok' | 'bad' | 'neutral'; label: string }> = {
  healthy: { tone: 'ok', label: 'healthy' },
  unhealthy: { tone: 'bad', label: 'unhealthy' },
  unknown: { tone: 'neutral', label: 'unknown' },
};

/** The upstreams of a proxy host, each with Caddy's health verdict when the host has health checks. */
export function UpstreamHealthList({ route, node }: { route: Route; node: FleetNode | undefined }) {
  return (
    <ul className="lines mono upstream-health" aria-label="Upstreams">
      {upstreamHealthLines(route, node).map((line) => {
        const badge = line.state === 'unchecked' ? null : BADGE[line.state];
        return (
          <li key={line.key} data-upstream={line.address} data-health={line.state} title={line.title}>
            {line.label}
            {badge && (
              <>
                {' '}
                <Badge tone={badge.tone} title={line.title}>
                  {badge.label}
                </Badge>
              </>
            )}
          </li>
        );
      })}
    </ul>
  );
}
