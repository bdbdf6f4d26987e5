import { useCallback, useEffect, useMemo, useState } from 'react';
import { errorMessage, request, setUnauthorizedHandler } from './api/client';
import { feed } from './api/events';
import type { Me, RouteKind } from './api/types';
import { Layout } from './components/Layout';
import { ErrorNote, Loading } from './components/States';
import { startLiveNodes, stopLiveNodes } from './hooks/useLiveNodes';
import { SessionContext, type Session } from './lib/auth';
import { matchPath, navigate, useLocation } from './lib/router';
import { AccessPage } from './pages/AccessPage';
import { AuditPage } from './pages/AuditPage';
import { LoginPage } from './pages/LoginPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { OverviewPage } from './pages/OverviewPage';
import { RoutesPage } from './pages/RoutesPage';
import { ServerDetailPage } from './pages/ServerDetailPage';
import { ServersPage } from './pages/ServersPage';
import { SitesPage } from './pages/SitesPage';

const ROUTE_PAGES: Record<string, RouteKind> = {
  '/proxy-hosts': 'proxy',
  '/redirection-hosts': 'redirect',
  '/streams': 'stream',
  '/404-hosts': 'dead',
};

function Page({ pathname }: { pathname: string }) {
  if (pathname === '/') return <OverviewPage />;
  if (pathname === '/servers') return <ServersPage />;
  const server = matchPath('/servers/:id', pathname);
  if (server) return <ServerDetailPage key={server.id} id={server.id!} />;
  const kind = ROUTE_PAGES[pathname];
  if (kind) return <RoutesPage key={kind} kind={kind} />;
  if (pathname === '/sites') return <SitesPage />;
  if (pathname === '/audit') return <AuditPage />;
  if (pathname === '/access') return <AccessPage />;
  return <NotFoundPage />;
}

type AuthState = { state: 'checking' } | { state: 'error'; message: string } | { state: 'out' } | { state: 'in'; me: Me };

export function App() {
  const [auth, setAuth] = useState<AuthState>({ state: 'checking' });
  const { pathname } = useLocation();

  const check = useCallback(() => {
    setAuth({ state: 'checking' });
    // /auth/session answers 200 either way, so a signed-out first load logs no error in the console.
    request<{ authenticated: boolean; user: Me | null }>('GET', '/auth/session')
      .then((s) => setAuth(s.user ? { state: 'in', me: s.user } : { state: 'out' }))
      .catch((err: unknown) => setAuth({ state: 'error', message: errorMessage(err) }));
  }, []);

  useEffect(() => {
    check();
    setUnauthorizedHandler(() => setAuth({ state: 'out' }));
    return () => setUnauthorizedHandler(null);
  }, [check]);

  const signedIn = auth.state === 'in';
  useEffect(() => {
    if (!signedIn) return;
    feed.start();
    startLiveNodes();
    return () => {
      feed.stop();
      stopLiveNodes();
    };
  }, [signedIn]);

  useEffect(() => {
    if (signedIn && pathname === '/login') navigate('/', { replace: true });
  }, [signedIn, pathname]);

  const session = useMemo<Session | null>(
    () =>
      auth.state === 'in'
        ? {
            me: auth.me,
            canWrite: auth.me.role === 'admin',
            logout: async () => {
              await request('POST', '/auth/logout', { quiet401: true }).catch(() => {});
              setAuth({ state: 'out' });
              navigate('/login');
            },
          }
        : null,
    [auth],
  );

  if (auth.state === 'checking') return <Loading what="the dashboard" />;
  if (auth.state === 'error') {
    return (
      <div className="center-page">
        <ErrorNote title="Cannot reach the controller" error={auth.message} onRetry={check} />
      </div>
    );
  }
  if (auth.state === 'out' || !session) return <LoginPage onLoggedIn={(me) => setAuth({ state: 'in', me })} />;
  return (
    <SessionContext.Provider value={session}>
      <Layout>
        <Page pathname={pathname} />
      </Layout>
    </SessionContext.Provider>
  );
}
