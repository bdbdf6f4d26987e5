import { useEffect } from 'react';
import { feed } from '../api/events';
import type { EnrollmentToken } from '../api/types';
import { useApi, type ApiState } from './useApi';
import { liveNodesSnapshot } from './useLiveNodes';

/**
 * A site's enrollment tokens (`GET /sites/:id/enrollment-tokens`, never their secrets), kept current: a node that
 * shows up in the site after mounting is what spending a token looks like on the SSE feed, so its first `node`
 * event refetches the list (debounced); so does a reconnect. `pollMs` adds a plain poll on top (the New agent
 * dialog while it waits), `siteId` null fetches nothing.
 */
export function useEnrollmentTokens(siteId: string | null, pollMs = 0): ApiState<EnrollmentToken[]> {
  const tokens = useApi<EnrollmentToken[]>(siteId === null ? null : `/sites/${encodeURIComponent(siteId)}/enrollment-tokens`);
  const { reload } = tokens;

  useEffect(() => {
    if (siteId === null) return;
    const seen = new Set((liveNodesSnapshot() ?? []).map((n) => n.id));
    let timer: ReturnType<typeof setTimeout> | null = null;
    const schedule = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(reload, 250);
    };
    const offs = [
      feed.on('node', (data) => {
        const { id, siteId: nodeSite } = (data ?? {}) as { id?: unknown; siteId?: unknown };
        if (typeof id !== 'string' || nodeSite !== siteId || seen.has(id)) return;
        seen.add(id);
        schedule();
      }),
      feed.onOpen(schedule),
    ];
    const poll = pollMs > 0 ? setInterval(reload, pollMs) : null;
    return () => {
      if (timer) clearTimeout(timer);
      if (poll) clearInterval(poll);
      for (const off of offs) off();
    };
  }, [siteId, pollMs, reload]);

  return tokens;
}

export type TokenState = 'unused' | 'used' | 'revoked' | 'expired';

/** Revoked wins over used (a used token can be revoked too; it changes nothing then). */
export function tokenState(t: EnrollmentToken, now: number): TokenState {
  if (t.revokedAt) return 'revoked';
  if (t.usedAt) return 'used';
  if (Date.parse(t.expiresAt) <= now) return 'expired';
  return 'unused';
}
