import { useEffect, useState } from 'react';
import type { AuditEntry } from '../api/types';
import { AuditChanges } from '../components/AuditList';
import { RelativeTime } from '../components/RelativeTime';
import { EmptyState, ErrorNote, Loading } from '../components/States';
import { useApi } from '../hooks/useApi';
import { useLiveNodes } from '../hooks/useLiveNodes';
import { useNodeFilter } from '../hooks/useNodeFilter';
import { auditChanges, auditTouchesNode, describeAudit } from '../lib/audit';
import { usePageTitle } from '../lib/auth';
import { nodeLabel } from '../lib/format';
import { setQueryParam, useLocation } from '../lib/router';
import { Table } from '../components/Table';

const ENTITY_TYPES: [string, string][] = [
  ['', 'All types'],
  ['route', 'Routes'],
  ['node', 'Servers'],
  ['enrollment_token', 'Enrollment tokens'],
  ['site', 'Sites'],
  ['organization', 'Organizations'],
  ['tenant', 'Tenants'],
  ['api_token', 'API tokens'],
  ['user', 'Users'],
];

export function AuditPage() {
  usePageTitle('Audit log');
  const { search } = useLocation();
  const entityType = search.get('type') ?? '';
  const actor = search.get('actor') ?? '';
  const [actorDraft, setActorDraft] = useState(actor);
  useEffect(() => setActorDraft(actor), [actor]);
  const [filter] = useNodeFilter();
  const live = useLiveNodes();
  const audit = useApi<AuditEntry[]>('/audit', { entityType, actor, limit: 500 });
  const entries = (audit.data ?? []).filter((e) => !filter || auditTouchesNode(e, filter));
  const actors = [...new Set((audit.data ?? []).map((e) => e.actor))].sort();

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Audit log</h1>
          <p className="muted">Every change made through the dashboard, the API or by agents, newest first.</p>
        </div>
        <button type="button" className="btn" onClick={audit.reload}>
          Refresh
        </button>
      </div>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setQueryParam('actor', actorDraft.trim() || null, { replace: true });
        }}
      >
        <div className="field">
          <label htmlFor="audit-type">Entity type</label>
          <select id="audit-type" value={entityType} onChange={(e) => setQueryParam('type', e.target.value || null, { replace: true })}>
            {ENTITY_TYPES.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-actor">Actor</label>
          <input id="audit-actor" list="audit-actors" value={actorDraft} placeholder="e.g. admin" onChange={(e) => setActorDraft(e.target.value)} />
          <datalist id="audit-actors">
            {actors.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </div>
        <div className="filters-actions">
          <button type="submit" className="btn">
            Apply
          </button>
          {(entityType || actor) && (
            <button
              type="button"
              className="link-btn"
              onClick={() => {
                setQueryParam('type', null, { replace: true });
                setQueryParam('actor', null, { replace: true });
              }}
            >
              Clear filters
            </button>
          )}
        </div>
      </form>
      {filter && <p className="filter-note">Only entries about {nodeLabel(live.byId(filter), filter)} and its routes.</p>}
      {audit.error && <ErrorNote error={audit.error} onRetry={audit.reload} />}
      {!audit.data ? (
        !audit.error && <Loading what="the audit log" />
      ) : entries.length === 0 ? (
        <EmptyState title="No entries match these filters.">
          <p>Try another entity type or actor, or choose “All servers” in the header.</p>
        </EmptyState>
      ) : (
        <Table label="Audit log" columns={['When', 'Actor', 'What', 'Details']}>
          {entries.map((e) => (
            <tr key={e.id}>
              <td data-label="When">
                <RelativeTime iso={e.at} />
              </td>
              <td data-label="Actor">{e.actor}</td>
              <td data-label="What">
                {describeAudit(e)}
                <span className="sub muted mono">{e.entityId}</span>
              </td>
              {e.action === 'update' && auditChanges(e).length ? (
                <td data-label="Details">
                  <AuditChanges changes={auditChanges(e)} listClassName="changes" />
                </td>
              ) : (
                <td data-label="Details" className="empty-cell">
                  <span className="muted">—</span>
                </td>
              )}
            </tr>
          ))}
        </Table>
      )}
    </div>
  );
}
