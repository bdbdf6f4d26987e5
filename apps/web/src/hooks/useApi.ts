import { useCallback, useEffect, useRef, useState } from 'react';
import { api, errorMessage } from '../api/client';
import { feed } from '../api/events';

type Query = Record<string, string | number | undefined | null>;

export interface ApiState<T> {
  data: T | null;
  error: string | null;
  /** True until the first answer (later reloads keep showing the previous data). */
  loading: boolean;
  reload: () => void;
  setData: (fn: (prev: T | null) => T | null) => void;
}

/** GETs `path` (null = don't fetch) and refetches when the path or query changes, or on `reload()`. */
export function useApi<T>(path: string | null, query?: Query): ApiState<T> {
  const key = path === null ? null : `${path}?${JSON.stringify(query ?? {})}`;
  const [result, setResult] = useState<{ key: string | null; data: T | null; error: string | null }>({ key: null, data: null, error: null });
  const [tick, setTick] = useState(0);
  const queryRef = useRef(query);
  queryRef.current = query;

  useEffect(() => {
    if (path === null || key === null) return;
    const ctrl = new AbortController();
    api
      .get<T>(path, queryRef.current, ctrl.signal)
      .then((data) => setResult({ key, data, error: null }))
      .catch((err: unknown) => {
        if (ctrl.signal.aborted) return;
        // Keep the previous data of the same view on a failed refresh; show the error beside it.
        setResult((prev) => ({ key, data: prev.key === key ? prev.data : null, error: errorMessage(err) }));
      });
    return () => ctrl.abort();
  }, [key, tick, path]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  const setData = useCallback((fn: (prev: T | null) => T | null) => setResult((prev) => ({ ...prev, data: fn(prev.data) })), []);
  const current = result.key === key;
  return { data: current ? result.data : null, error: current ? result.error : null, loading: key !== null && !current, reload, setData };
}

/**
 * Calls `reload` (debounced) whenever routes change somewhere in the fleet (`revision`), when a node applied a
 * new revision, when a node's reported route problems or local routes change (`routes`), and after the stream
 * reconnects. With `nodeId` (a list scoped to one server, `local` for the controller's own), `routes` events of
 * other servers are ignored; `revision` always counts, since a route moved between servers bumps both.
 */
export function useRefreshOnRevision(reload: () => void, delayMs = 300, nodeId?: string | null): void {
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const schedule = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(reload, delayMs);
    };
    const applied = new Map<string, number>();
    const onNode = (data: unknown) => {
      const { id, appliedRevision } = (data ?? {}) as { id?: unknown; appliedRevision?: unknown };
      if (typeof id !== 'string' || typeof appliedRevision !== 'number') return;
      const before = applied.get(id);
      applied.set(id, appliedRevision);
      // The first event of a node after mounting also refreshes once (debounced): its ack may be what we missed.
      if (before !== appliedRevision) schedule();
    };
    const onRoutes = (data: unknown) => {
      const changed = (data as { nodeId?: unknown } | null)?.nodeId;
      if (nodeId && typeof changed === 'string' && changed !== nodeId) return;
      schedule();
    };
    const offs = [
      feed.on('revision', schedule),
      feed.on('routes', onRoutes),
      feed.on('node', onNode),
      feed.on('node-removed', schedule),
      feed.onOpen(schedule),
    ];
    return () => {
      if (timer) clearTimeout(timer);
      for (const off of offs) off();
    };
  }, [reload, delayMs, nodeId]);
}
