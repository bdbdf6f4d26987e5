import type { Organization, Site, Tenant } from '@caddyfleet/protocol';
import { newId } from '../crypto';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { audit } from './audit-service';
import type { Actor, ServiceContext } from './context';

type Level = 'tenants' | 'organizations' | 'sites';

interface LevelInfo {
  label: string;
  idPrefix: string;
  parent: { column: 'tenant_id' | 'organization_id'; table: Level; apiField: 'tenantId' | 'organizationId' } | null;
  child: { table: 'organizations' | 'sites' | 'nodes'; column: 'tenant_id' | 'organization_id' | 'site_id'; label: string };
}

/** The three levels share one shape: a name and a parent. */
const LEVELS: Record<Level, LevelInfo> = {
  tenants: { label: 'tenant', idPrefix: 'ten', parent: null, child: { table: 'organizations', column: 'tenant_id', label: 'organizations' } },
  organizations: {
    label: 'organization',
    idPrefix: 'org',
    parent: { column: 'tenant_id', table: 'tenants', apiField: 'tenantId' },
    child: { table: 'sites', column: 'organization_id', label: 'sites' },
  },
  sites: {
    label: 'site',
    idPrefix: 'site',
    parent: { column: 'organization_id', table: 'organizations', apiField: 'organizationId' },
    child: { table: 'nodes', column: 'site_id', label: 'nodes' },
  },
};

type Row = { id: string; name: string; created_at: string; updated_at: string; tenant_id?: string; organization_id?: string };

function toApi(row: Row): Tenant & Partial<Organization & Site> {
  const out: Record<string, string> = { id: row.id, name: row.name, createdAt: row.created_at, updatedAt: row.updated_at };
  if (row.tenant_id) out.tenantId = row.tenant_id;
  if (row.organization_id) out.organizationId = row.organization_id;
  return out as unknown as Tenant;
}

export class HierarchyService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(level: Level, parentId?: string) {
    const info = LEVELS[level];
    let q = this.ctx.db.selectFrom(level as 'tenants').selectAll().orderBy('name').orderBy('id');
    if (parentId && info.parent) q = q.where(info.parent.column as 'id', '=', parentId);
    return ((await q.execute()) as Row[]).map(toApi);
  }

  async get(level: Level, id: string) {
    const row = (await this.ctx.db.selectFrom(level as 'tenants').selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined;
    if (!row) throw new NotFoundError(LEVELS[level].label, id);
    return toApi(row);
  }

  async create(actor: Actor, level: Level, input: { name: string; tenantId?: string; organizationId?: string }) {
    const info = LEVELS[level];
    const now = this.ctx.now().toISOString();
    const row: Row = { id: newId(info.idPrefix), name: input.name, created_at: now, updated_at: now };
    return this.ctx.db.transaction().execute(async (trx) => {
      if (info.parent) {
        const parentId = input[info.parent.apiField];
        if (!parentId) throw new ValidationError(`${info.parent.apiField} is required`);
        const parent = await trx.selectFrom(info.parent.table as 'tenants').select('id').where('id', '=', parentId).executeTakeFirst();
        if (!parent) throw new ValidationError(`${LEVELS[info.parent.table].label} ${parentId} does not exist`, [{ path: info.parent.apiField, message: 'does not exist' }]);
        row[info.parent.column] = parentId;
      }
      await trx.insertInto(level as 'tenants').values(row as never).execute();
      const created = toApi(row);
      await audit(trx, this.ctx, actor, 'create', info.label, row.id, null, created);
      return created;
    });
  }

  async rename(actor: Actor, level: Level, id: string, patch: { name?: string | undefined }) {
    return this.ctx.db.transaction().execute(async (trx) => {
      const before = (await trx.selectFrom(level as 'tenants').selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined;
      if (!before) throw new NotFoundError(LEVELS[level].label, id);
      if (patch.name === undefined || patch.name === before.name) return toApi(before);
      const after: Row = { ...before, name: patch.name, updated_at: this.ctx.now().toISOString() };
      await trx.updateTable(level as 'tenants').set({ name: after.name, updated_at: after.updated_at }).where('id', '=', id).execute();
      await audit(trx, this.ctx, actor, 'update', LEVELS[level].label, id, toApi(before), toApi(after));
      return toApi(after);
    });
  }

  /** Refuses to delete a level that still has children, so nothing is orphaned or silently lost. */
  async remove(actor: Actor, level: Level, id: string) {
    const info = LEVELS[level];
    await this.ctx.db.transaction().execute(async (trx) => {
      const before = (await trx.selectFrom(level as 'tenants').selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined;
      if (!before) throw new NotFoundError(info.label, id);
      const child = await trx
        .selectFrom(info.child.table as 'organizations')
        .select('id')
        .where(info.child.column as 'tenant_id', '=', id)
        .limit(1)
        .executeTakeFirst();
      if (child) throw new ConflictError('not_empty', `${info.label} ${id} still has ${info.child.label}; delete or move them first`);
      if (level === 'sites') {
        await trx.deleteFrom('enrollment_tokens').where('site_id', '=', id).execute();
      }
      await trx.deleteFrom(level as 'tenants').where('id', '=', id).execute();
      await audit(trx, this.ctx, actor, 'delete', info.label, id, toApi(before), null);
    });
  }
}
