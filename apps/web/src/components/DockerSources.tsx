import type { Route } from '../api/types';
import { Badge } from './Badges';

/** The containers behind a Docker route: name, the server that found it, Docker's state, and staleness. */
export function DockerSources({ route }: { route: Route }) {
  if (route.origin !== 'docker' || !route.sources?.length) return null;
  return (
    <ul className="lines docker-sources" aria-label="Containers">
      {route.sources.map((s) => (
        <li key={`${s.nodeId ?? 'local'}/${s.containerId}`} data-container={s.containerName}>
          <span className="mono" title={`container ${s.containerId.slice(0, 12)}`}>
            {s.containerName}
          </span>{' '}
          <span className="muted">
            on {s.nodeName} · {s.state}
          </span>
          {s.stale && (
            <Badge tone="warn" title={`${s.nodeName} is offline: the container may have changed since it was last seen`}>
              stale
            </Badge>
          )}
        </li>
      ))}
    </ul>
  );
}
