import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { z } from 'zod';
import { nameSchema, organizationCreateSchema, siteCreateSchema, tenantCreateSchema } from '@caddyfleet/protocol';
import { ApiError, api } from '../api/client';
import type { Organization, Site, Tenant } from '../api/types';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { NameForm } from '../components/NameForm';
import { SiteTokens } from '../components/SiteTokens';
import { EmptyState, ErrorNote, Loading } from '../components/States';
import { useHierarchy } from '../hooks/useHierarchy';
import { useLiveNodes } from '../hooks/useLiveNodes';
import { usePageTitle, useSession } from '../lib/auth';
import { plural } from '../lib/format';
import { Link, useLocation } from '../lib/router';

type Level = 'tenants' | 'organizations' | 'sites';
const LABEL: Record<Level, string> = { tenants: 'tenant', organizations: 'organization', sites: 'site' };
const CHILD: Record<Level, string> = { tenants: 'organizations', organizations: 'sites', sites: 'servers' };

interface Target {
  level: Level;
  id: string;
  name: string;
}

/** Name + rename/delete buttons, or the rename form in place. */
function Item({ target, canWrite, extra, onRename, onDelete }: { target: Target; canWrite: boolean; extra?: ReactNode; onRename: (name: string) => Promise<void>; onDelete: () => void }) {
  const [renaming, setRenaming] = useState(false);
  if (renaming) {
    return (
      <NameForm
        compact
        label={`New name of the ${LABEL[target.level]}`}
        initial={target.name}
        schema={nameSchema}
        submitLabel="Save"
        onCancel={() => setRenaming(false)}
        onSubmit={async (name) => {
          await onRename(name);
          setRenaming(false);
        }}
      />
    );
  }
  return (
    <div className={`tree-item tree-${target.level}`}>
      <span className="tree-name">
        <span className="tree-kind">{LABEL[target.level]}</span> <strong>{target.name}</strong> {extra}
      </span>
      {canWrite && (
        <span className="actions">
          <button type="button" className="btn btn-small" onClick={() => setRenaming(true)} aria-label={`Rename ${LABEL[target.level]} ${target.name}`}>
            Rename
          </button>
          <button type="button" className="btn btn-small btn-danger-outline" onClick={onDelete} aria-label={`Delete ${LABEL[target.level]} ${target.name}`}>
            Delete
          </button>
        </span>
      )}
    </div>
  );
}

export function SitesPage() {
  usePageTitle('Sites');
  const { canWrite } = useSession();
  const h = useHierarchy();
  const live = useLiveNodes();
  const [deleting, setDeleting] = useState<Target | null>(null);
  const [adding, setAdding] = useState<string | null>(null);
  // Sites whose enrollment tokens are shown; `?site=<id>` (e.g. from a server's detail) opens one on load.
  const { search } = useLocation();
  const linkedSite = search.get('site');
  const [expanded, setExpanded] = useState<Set<string>>(() => new Set(linkedSite ? [linkedSite] : []));
  const toggle = (id: string) =>
    setExpanded((prev) => {
      const next = new Set(prev);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  const scrolledTo = useRef<string | null>(null);
  useEffect(() => {
    if (!linkedSite || !h.sites.data || scrolledTo.current === linkedSite) return;
    scrolledTo.current = linkedSite;
    setExpanded((prev) => (prev.has(linkedSite) ? prev : new Set(prev).add(linkedSite)));
    document.getElementById(`site-${linkedSite}`)?.scrollIntoView({ block: 'start' });
  }, [linkedSite, h.sites.data]);

  const rename = async (level: Level, id: string, name: string) => {
    await api.patch(`/${level}/${encodeURIComponent(id)}`, { name });
    h.reload();
  };
  const nodeCount = (siteId: string) => (live.nodes ?? []).filter((n) => n.siteId === siteId).length;
  const tenants = h.tenants.data;
  const orgs = h.orgs.data ?? [];
  const sites = h.sites.data ?? [];

  const addForm = (key: string, label: string, schema: z.ZodType, make: (name: string) => object, level: Level) =>
    adding === key ? (
      <NameForm
        compact
        label={label}
        schema={nameSchema}
        submitLabel="Create"
        onCancel={() => setAdding(null)}
        onSubmit={async (name) => {
          const body = make(name);
          const parsed = schema.safeParse(body);
          if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? `invalid ${LABEL[level]}`);
          await api.post(`/${level}`, body);
          setAdding(null);
          h.reload();
        }}
      />
    ) : (
      canWrite && (
        <button type="button" className="btn btn-small btn-add" onClick={() => setAdding(key)}>
          + {label.replace(/^Name of the new /, 'Add ')}
        </button>
      )
    );

  const orgBlock = (o: Organization) => {
    const children = sites.filter((s) => s.organizationId === o.id);
    return (
      <li key={o.id}>
        <Item target={{ level: 'organizations', id: o.id, name: o.name }} canWrite={canWrite} onRename={(n) => rename('organizations', o.id, n)} onDelete={() => setDeleting({ level: 'organizations', id: o.id, name: o.name })} />
        <ul className="tree-children">
          {children.map((s: Site) => {
            const open = expanded.has(s.id);
            const panelId = `site-tokens-${s.id}`;
            return (
              <li key={s.id} id={`site-${s.id}`}>
                <Item
                  target={{ level: 'sites', id: s.id, name: s.name }}
                  canWrite={canWrite}
                  extra={<span className="muted">· {plural(nodeCount(s.id), 'server')}</span>}
                  onRename={(n) => rename('sites', s.id, n)}
                  onDelete={() => setDeleting({ level: 'sites', id: s.id, name: s.name })}
                />
                <button
                  type="button"
                  className="disclosure"
                  aria-expanded={open}
                  aria-controls={panelId}
                  aria-label={`Enrollment tokens of ${s.name}`}
                  onClick={() => toggle(s.id)}
                >
                  <span className="disclosure-caret" aria-hidden="true">
                    ▸
                  </span>{' '}
                  Enrollment tokens
                </button>
                {open && (
                  <section id={panelId} aria-label={`Enrollment tokens of site ${s.name}`}>
                    <SiteTokens siteId={s.id} siteName={s.name} canWrite={canWrite} />
                  </section>
                )}
              </li>
            );
          })}
          {children.length === 0 && <li className="muted tree-empty">No sites yet.</li>}
          <li>{addForm(`site-${o.id}`, 'Name of the new site', siteCreateSchema, (name) => ({ name, organizationId: o.id }), 'sites')}</li>
        </ul>
      </li>
    );
  };

  const tenantBlock = (t: Tenant) => {
    const children = orgs.filter((o) => o.tenantId === t.id);
    return (
      <section key={t.id} className="card tree" aria-label={`Tenant ${t.name}`}>
        <Item target={{ level: 'tenants', id: t.id, name: t.name }} canWrite={canWrite} onRename={(n) => rename('tenants', t.id, n)} onDelete={() => setDeleting({ level: 'tenants', id: t.id, name: t.name })} />
        <ul className="tree-children">
          {children.map(orgBlock)}
          {children.length === 0 && <li className="muted tree-empty">No organizations yet.</li>}
          <li>{addForm(`org-${t.id}`, 'Name of the new organization', organizationCreateSchema, (name) => ({ name, tenantId: t.id }), 'organizations')}</li>
        </ul>
      </section>
    );
  };

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Sites</h1>
          <p className="muted">
            Tenants contain organizations, organizations contain sites, and every server belongs to a site. Only empty items can be deleted.
          </p>
        </div>
      </div>
      {h.error && <ErrorNote error={h.error} onRetry={h.reload} />}
      {!tenants ? (
        !h.error && <Loading what="sites" />
      ) : (
        <>
          {tenants.length === 0 && <EmptyState title="No tenants yet.">{canWrite && <p>Create a tenant first, then an organization and a site in it.</p>}</EmptyState>}
          {tenants.map(tenantBlock)}
          <div className="card">{addForm('tenant', 'Name of the new tenant', tenantCreateSchema, (name) => ({ name }), 'tenants')}</div>
          <p className="muted">
            Servers are assigned to a site when they enroll (<Link to="/servers">Servers → New agent</Link>, or a site&apos;s “New enrollment
            token”) and can be moved to another site from their detail page.
          </p>
        </>
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete ${LABEL[deleting.level]} ${deleting.name}?`}
          confirmLabel="Delete"
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            try {
              await api.del(`/${deleting.level}/${encodeURIComponent(deleting.id)}`);
            } catch (err) {
              if (err instanceof ApiError && err.code === 'not_empty') {
                throw new Error(`“${deleting.name}” is not empty: it still contains ${CHILD[deleting.level]}. Delete or move them first, then try again.`);
              }
              throw err;
            }
            h.reload();
          }}
        >
          <p>
            Only an empty {LABEL[deleting.level]} can be deleted: move or delete its {CHILD[deleting.level]} first.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}
