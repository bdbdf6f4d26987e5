import { useNodeFilter } from '../hooks/useNodeFilter';
import { useLiveNodes } from '../hooks/useLiveNodes';
import { STATUS_LABEL, nodeLabel } from '../lib/format';

/** The header's server selector: "All servers" or one node; stored in `?node=`. */
export function ServerSelect() {
  const [filter, setFilter] = useNodeFilter();
  const { nodes } = useLiveNodes();
  const known = !filter || !nodes || nodes.some((n) => n.id === filter);
  return (
    <div className="server-select">
      <label htmlFor="server-filter">Server</label>
      <select id="server-filter" value={filter ?? ''} onChange={(e) => setFilter(e.target.value || null)}>
        <option value="">All servers</option>
        {(nodes ?? []).map((n) => (
          <option key={n.id} value={n.id}>
            {nodeLabel(n, n.id)}
            {n.status !== 'online' ? ` — ${STATUS_LABEL[n.status]}` : ''}
          </option>
        ))}
        {!known && filter && <option value={filter}>Unknown server ({filter})</option>}
      </select>
    </div>
  );
}
