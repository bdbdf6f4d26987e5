import { useState, useSyncExternalStore, type ReactNode } from 'react';
import { feed } from '../api/events';
import { useSession } from '../lib/auth';
import { Link, useLocation } from '../lib/router';
import { ServerSelect } from './ServerSelect';

const NAV: { to: string; label: string; section?: string }[] = [
  { to: '/', label: 'Overview' },
  { to: '/servers', label: 'Servers' },
  { to: '/proxy-hosts', label: 'Proxy hosts', section: 'Hosts' },
  { to: '/redirection-hosts', label: 'Redirection hosts' },
  { to: '/streams', label: 'Streams' },
  { to: '/404-hosts', label: '404 hosts' },
  { to: '/sites', label: 'Sites', section: 'Administration' },
  { to: '/audit', label: 'Audit log' },
  { to: '/access', label: 'Users & API tokens' },
];

function LiveIndicator() {
  const status = useSyncExternalStore(feed.subscribeStatus, feed.getStatus);
  const label = status === 'open' ? 'Live' : status === 'idle' ? 'Offline' : status === 'connecting' ? 'Connecting…' : 'Reconnecting…';
  return (
    <span className={`live live-${status}`} role="status" title="Live updates from the controller">
      <span className="dot" aria-hidden="true" />
      {label}
    </span>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const { me, logout } = useSession();
  const { pathname } = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const active = (to: string) => (to === '/' ? pathname === '/' : pathname === to || pathname.startsWith(`${to}/`));
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button type="button" className="nav-toggle" aria-expanded={menuOpen} aria-controls="sidenav" onClick={() => setMenuOpen((o) => !o)}>
          <span aria-hidden="true">☰</span>
          <span className="sr-only">Menu</span>
        </button>
        <Link to="/" className="brand">
          <img src="/favicon.svg" alt="" width={24} height={24} />
          caddyfleet
        </Link>
        <ServerSelect />
        <div className="topbar-end">
          <LiveIndicator />
          <span className="whoami" title={`role: ${me.role}`}>
            {me.label}
            {me.role !== 'admin' && <span className="muted"> (read-only)</span>}
          </span>
          <button type="button" className="btn btn-small" onClick={() => void logout()}>
            Log out
          </button>
        </div>
      </header>
      <div className="shell">
        <nav id="sidenav" className={menuOpen ? 'sidenav open' : 'sidenav'} aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.to}>
                {item.section && <span className="nav-section">{item.section}</span>}
                <Link to={item.to} aria-current={active(item.to) ? 'page' : undefined} onClick={() => setMenuOpen(false)}>
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" className="content" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  );
}
