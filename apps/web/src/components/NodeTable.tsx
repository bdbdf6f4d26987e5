import type { FleetNode } from '../api/types';
import { nodeSync } from '@caddyfleet/protocol';
import { dateTime, inSync, nodeLabel } from '../lib/format';
import { Link } from '../lib/router';
import { StatusBadge } from './Badges';
import { RelativeTime } from './RelativeTime';
import { Table } from './Table';

export function SyncState({ node }: { node: FleetNode }) {
  if (nodeSync(node) === 'never_connected') {
    return (
      <span className="sync sync-behind" title="The agent of this server has not connected yet: nothing is served there">
        Never connected
      </span>
    );
  }
  if (inSync(node)) {
    return (
      <span className="sync sync-ok" title={`applied revision ${node.appliedRevision}`}>
        ✓ In sync
      </span>
    );
  }
  return (
    <span className="sync sync-behind" title={`applied ${node.appliedRevision}, desired ${node.desiredRevision}`}>
      Behind ({node.appliedRevision}/{node.desiredRevision})
    </span>
  );
}

export function NodeTable({ nodes, siteName }: { nodes: FleetNode[]; siteName: (id: string) => string }) {
  return (
    <Table
      label="Servers"
      columns={['Name', 'Hostname', 'Status', 'Caddy version', 'Last seen', { label: 'Active routes', className: 'num' }, { label: 'Certificates', className: 'num' }, 'In sync']}
    >
      {nodes.map((n) => (
        <tr key={n.id} data-node-id={n.id} className={n.status === 'offline' || n.status === 'error' ? 'row-bad' : undefined}>
          <td data-label="Name">
            <Link to={`/servers/${encodeURIComponent(n.id)}`} className="strong">
              {nodeLabel(n, n.id)}
            </Link>
            <span className="sub muted">{siteName(n.siteId)}</span>
          </td>
          <td data-label="Hostname" className="mono">
            {n.hostname}
          </td>
          <td data-label="Status">
            <StatusBadge status={n.status} />
            {n.revokedAt && (
              <span className="sub muted" title={`agent key revoked ${dateTime(n.revokedAt)}`}>
                key revoked
              </span>
            )}
          </td>
          <td data-label="Caddy version">{n.caddyVersion ?? <span className="muted">—</span>}</td>
          <td data-label="Last seen">
            <RelativeTime iso={n.lastSeenAt} />
          </td>
          <td data-label="Active routes" className="num">
            {n.routeCount}
          </td>
          <td data-label="Certificates" className="num">
            {n.certCount}
          </td>
          <td data-label="In sync">
            <SyncState node={n} />
          </td>
        </tr>
      ))}
    </Table>
  );
}
