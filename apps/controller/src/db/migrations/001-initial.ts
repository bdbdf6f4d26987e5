import type { Kysely } from 'kysely';
import type { Dialect } from '../connect';

const ts = 'varchar(40)';

export function initial(dialect: Dialect) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      const s = db.schema;
      await s
        .createTable('tenants')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(200)', (c) => c.notNull())
        .addColumn('created_at', ts, (c) => c.notNull())
        .addColumn('updated_at', ts, (c) => c.notNull())
        .execute();
      await s
        .createTable('organizations')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'varchar(200)', (c) => c.notNull())
        .addColumn('created_at', ts, (c) => c.notNull())
        .addColumn('updated_at', ts, (c) => c.notNull())
        .execute();
      await s
        .createTable('sites')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('organization_id', 'varchar(64)', (c) => c.notNull().references('organizations.id'))
        .addColumn('name', 'varchar(200)', (c) => c.notNull())
        .addColumn('created_at', ts, (c) => c.notNull())
        .addColumn('updated_at', ts, (c) => c.notNull())
        .execute();
      await s
        .createTable('nodes')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('site_id', 'varchar(64)', (c) => c.notNull().references('sites.id'))
        .addColumn('name', 'varchar(200)', (c) => c.notNull())
        .addColumn('hostname', 'varchar(255)', (c) => c.notNull())
        .addColumn('is_local', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('status', 'varchar(20)', (c) => c.notNull())
        .addColumn('caddy_version', 'varchar(100)')
        .addColumn('agent_version', 'varchar(100)')
        .addColumn('last_seen_at', ts)
        .addColumn('route_count', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('cert_count', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('desired_revision', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('applied_revision', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'text')
        .addColumn('agent_key_hash', 'varchar(64)', (c) => c.unique())
        .addColumn('created_at', ts, (c) => c.notNull())
        .addColumn('updated_at', ts, (c) => c.notNull())
        .execute();
      await s
        .createTable('routes')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('kind', 'varchar(20)', (c) => c.notNull())
        .addColumn('node_id', 'varchar(64)', (c) => c.notNull().references('nodes.id'))
        .addColumn('site_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('scope', 'varchar(20)', (c) => c.notNull())
        .addColumn('origin', 'varchar(20)', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('tls', 'varchar(20)', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('revision', 'bigint', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('created_at', ts, (c) => c.notNull())
        .addColumn('updated_at', ts, (c) => c.notNull())
        .execute();
      await s.createIndex('routes_node').on('routes').column('node_id').execute();
      await s
        .createTable('route_domains')
        .addColumn('route_id', 'varchar(64)', (c) => c.notNull().references('routes.id').onDelete('cascade'))
        .addColumn('node_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('domain', 'varchar(260)', (c) => c.notNull())
        .execute();
      await s.createIndex('route_domains_unique').on('route_domains').columns(['node_id', 'domain']).unique().execute();
      await s.createIndex('route_domains_route').on('route_domains').column('route_id').execute();
      await s
        .createTable('route_listens')
        .addColumn('route_id', 'varchar(64)', (c) => c.notNull().references('routes.id').onDelete('cascade'))
        .addColumn('node_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('protocol', 'varchar(8)', (c) => c.notNull())
        .execute();
      await s.createIndex('route_listens_unique').on('route_listens').columns(['node_id', 'port', 'protocol']).unique().execute();
      await s.createIndex('route_listens_route').on('route_listens').column('route_id').execute();
      await s
        .createTable('enrollment_tokens')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('site_id', 'varchar(64)', (c) => c.notNull().references('sites.id'))
        .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('expires_at', ts, (c) => c.notNull())
        .addColumn('used_at', ts)
        .addColumn('used_by_node_id', 'varchar(64)')
        .addColumn('revoked_at', ts)
        .addColumn('created_by', 'varchar(100)', (c) => c.notNull())
        .addColumn('created_at', ts, (c) => c.notNull())
        .execute();
      await s
        .createTable('revoked_agent_tokens')
        .addColumn('key_hash', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('node_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('revoked_at', ts, (c) => c.notNull())
        .addColumn('revoked_by', 'varchar(100)', (c) => c.notNull())
        .execute();
      await s
        .createTable('users')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('username', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('password_hash', 'varchar(300)', (c) => c.notNull())
        .addColumn('role', 'varchar(20)', (c) => c.notNull())
        .addColumn('created_at', ts, (c) => c.notNull())
        .execute();
      await s
        .createTable('api_tokens')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('name', 'varchar(200)', (c) => c.notNull())
        .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('created_at', ts, (c) => c.notNull())
        .addColumn('last_used_at', ts)
        .execute();
      await s
        .createTable('sessions')
        .addColumn('id_hash', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('created_at', ts, (c) => c.notNull())
        .addColumn('expires_at', ts, (c) => c.notNull())
        .execute();
      await s
        .createTable('audit_log')
        .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
          dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('id', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('at', ts, (c) => c.notNull())
        .addColumn('actor', 'varchar(100)', (c) => c.notNull())
        .addColumn('action', 'varchar(40)', (c) => c.notNull())
        .addColumn('entity_type', 'varchar(32)', (c) => c.notNull())
        .addColumn('entity_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('before_json', 'text')
        .addColumn('after_json', 'text')
        .execute();
      await s.createIndex('audit_entity').on('audit_log').columns(['entity_type', 'entity_id']).execute();
    },
  };
}
