import { useState } from 'react';
import { NodeTable } from '../components/NodeTable';
import { EmptyState, ErrorNote, Loading } from '../components/States';
import { useHierarchy } from '../hooks/useHierarchy';
import { useLiveNodes } from '../hooks/useLiveNodes';
import { useNodeFilter } from '../hooks/useNodeFilter';
import { usePageTitle, useSession } from '../lib/auth';
import { nodeLabel } from '../lib/format';
import { NewAgentDialog } from './NewAgentDialog';
import { AddServerDialog } from './AddServerDialog';

export function ServersPage() {
  usePageTitle('Servers');
  const { canWrite } = useSession();
  const [filter, setFilter] = useNodeFilter();
  const live = useLiveNodes();
  const hierarchy = useHierarchy();
  const [enrolling, setEnrolling] = useState(false);
  const [adding, setAdding] = useState(false);

  const siteName = (id: string) => hierarchy.siteOptions?.find((s) => s.site.id === id)?.path ?? '';
  const nodes = (live.nodes ?? []).filter((n) => !filter || n.id === filter);
  const agents = (live.nodes ?? []).filter((n) => !n.isLocal);

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Servers</h1>
          <p className="muted">Every machine running a caddyfleet agent, and the controller&apos;s own local server. Status updates live.</p>
        </div>
        {canWrite && (
          <div className="actions">
            <button type="button" className="btn" onClick={() => setEnrolling(true)}>
              New agent
            </button>
            <button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>
              Add server
            </button>
          </div>
        )}
      </div>
      {filter && (
        <p className="filter-note">
          Showing only {nodeLabel(live.byId(filter), filter)}.{' '}
          <button type="button" className="link-btn" onClick={() => setFilter(null)}>
            Show all servers
          </button>
        </p>
      )}
      {live.error && <ErrorNote error={live.error} onRetry={() => void live.reload()} />}
      {!live.nodes ? (
        !live.error && <Loading what="servers" />
      ) : nodes.length === 0 ? (
        <EmptyState title="No server matches the selected filter." />
      ) : (
        <NodeTable nodes={nodes} siteName={siteName} />
      )}
      {live.nodes && agents.length === 0 && !filter && (
        <EmptyState
          title="No agents enrolled yet."
          action={
            canWrite && (
              <button type="button" className="btn btn-primary" onClick={() => setEnrolling(true)}>
                New agent
              </button>
            )
          }
        >
          <p>Install Caddy on a machine, then use New agent: it creates a one-time token and the command to run there.</p>
        </EmptyState>
      )}
      {enrolling && <NewAgentDialog onClose={() => setEnrolling(false)} />}
      {adding && <AddServerDialog onClose={() => setAdding(false)} />}
    </div>
  );
}
