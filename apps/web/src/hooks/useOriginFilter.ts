import type { Route } from '../api/types';
import { setQueryParam, useLocation } from '../lib/router';

const ORIGINS: Route['origin'][] = ['central', 'local', 'docker'];

/** The route list's origin filter, kept in the URL (`?origin=docker`) like the server selector. null = all. */
export function useOriginFilter(): [Route['origin'] | null, (origin: Route['origin'] | null) => void] {
  const { search } = useLocation();
  const value = search.get('origin');
  return [ORIGINS.includes(value as Route['origin']) ? (value as Route['origin']) : null, (o) => setQueryParam('origin', o)];
}
