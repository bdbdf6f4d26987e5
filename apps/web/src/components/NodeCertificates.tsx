import { useEffect } from 'react';
import type { z } from 'zod';
import type { nodeCertificatesSchema } from '@caddyfleet/protocol';
import type { FleetNode } from '../api/types';
import { useApi } from '../hooks/useApi';
import { useNow } from '../hooks/useNow';
import { expiresIn, expiryState, soonestFirst } from '../lib/certificates';
import { dateTime } from '../lib/format';
import { Badge } from './Badges';
import { RelativeTime } from './RelativeTime';
import { ErrorNote, Loading } from './States';
import { Table } from './Table';

type CertificatesView = z.infer<typeof nodeCertificatesSchema>;

const KIND_LABEL = { internal: "Caddy's internal CA", managed: 'ACME (public CA)' } as const;

/** The certificates the server's Caddy holds, soonest expiry first; refetched when the agent's count changes. */
export function NodeCertificates({ node }: { node: FleetNode }) {
  const view = useApi<CertificatesView>(`/nodes/${encodeURIComponent(node.id)}/certificates`);
  const now = useNow();
  const { reload } = view;
  useEffect(() => reload(), [node.certCount, reload]);

  if (view.error && !view.data) return <ErrorNote error={view.error} onRetry={view.reload} />;
  if (!view.data) return <Loading what="certificates" />;
  if (!view.data.reportedAt) {
    return <p className="muted">The agent has not reported certificates yet (it does once connected; an existing Caddy&apos;s storage is not read).</p>;
  }
  if (!view.data.certificates.length) return <p className="muted">This server&apos;s Caddy holds no certificates.</p>;
  return (
    <Table
      label="Certificates"
      columns={['Names', 'Issuer', 'Kind', 'Expires']}
      after={
        <p className="muted small">
          Reported <RelativeTime iso={view.data.reportedAt} />.
        </p>
      }
    >
      {soonestFirst(view.data.certificates).map((c) => {
        const state = expiryState(c, now);
        return (
          <tr key={`${c.subjects.join(',')}|${c.notAfter}`} data-expiry={state} className={state === 'ok' ? undefined : 'row-bad'}>
            <td data-label="Names" className="mono">
              {c.subjects.join(', ')}
            </td>
            <td data-label="Issuer">{c.issuer}</td>
            <td data-label="Kind">
              <Badge tone={c.kind === 'internal' ? 'info' : 'neutral'}>{KIND_LABEL[c.kind]}</Badge>
            </td>
            <td data-label="Expires">
              <time dateTime={c.notAfter} title={dateTime(c.notAfter)}>
                {expiresIn(c.notAfter, now)}
              </time>{' '}
              {state !== 'ok' && <Badge tone="bad">{state === 'expired' ? 'expired' : 'expiring soon'}</Badge>}
            </td>
          </tr>
        );
      })}
    </Table>
  );
}

/** Whether the server's Caddy can serve streams, and its module list, as the agent reported them. */
export function CaddyModules({ node }: { node: FleetNode }) {
  if (!node.caddyModules) return <span className="muted">unknown (reported by the agent of a Caddy it runs)</span>;
  const layer4 = node.caddyModules.includes('layer4');
  return (
    <details className="modules">
      <summary>
        {node.caddyModules.length} modules ·{' '}
        {layer4 ? <Badge tone="ok">streams (layer4)</Badge> : <Badge tone="warn" title="Stream routes are refused for this server">no layer4: no streams</Badge>}
      </summary>
      <ul className="mono small">
        {node.caddyModules.map((m) => (
          <li key={m}>{m}</li>
        ))}
      </ul>
    </details>
  );
}
