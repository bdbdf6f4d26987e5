import { setQueryParam, useLocation } from '../lib/router';

/**
 * The header's server selector, kept in the URL (`?node=<id>` or `?node=local`) so a filtered view can be
 * shared and survives a reload. null = all servers.
 */
export function useNodeFilter(): [string | null, (id: string | null) => void] {
  const { search } = useLocation();
  const value = search.get('node') || null;
  return [value, (id) => setQueryParam('node', id)];
}
