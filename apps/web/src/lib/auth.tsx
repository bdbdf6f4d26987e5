import { createContext, useContext, useEffect } from 'react';
import type { Me } from '../api/types';

export interface Session {
  me: Me;
  /** Admins may change things; viewers only read. */
  canWrite: boolean;
  logout: () => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside of a signed-in page');
  return s;
}

export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · caddyfleet`;
  }, [title]);
}
