import {
  organizationCreateSchema,
  organizationListQuerySchema,
  organizationPatchSchema,
  organizationSchema,
  siteCreateSchema,
  siteListQuerySchema,
  sitePatchSchema,
  siteSchema,
  tenantCreateSchema,
  tenantPatchSchema,
  tenantSchema,
} from '@caddyfleet/protocol';
import { z } from 'zod';
import type { Services } from '../../services';
import { idParams, type ApiRegistry } from '../api';

interface LevelSpec {
  path: 'tenants' | 'organizations' | 'sites';
  label: string;
  create: z.ZodType<{ name: string }>;
  patch: z.ZodType<{ name?: string | undefined }>;
  listQuery: z.ZodType<Record<string, string | undefined>>;
  resource: z.ZodType;
}

const LEVELS: LevelSpec[] = [
  { path: 'tenants', label: 'tenant', create: tenantCreateSchema, patch: tenantPatchSchema, listQuery: z.strictObject({}), resource: tenantSchema },
  {
    path: 'organizations',
    label: 'organization',
    create: organizationCreateSchema,
    patch: organizationPatchSchema,
    listQuery: organizationListQuerySchema,
    resource: organizationSchema,
  },
  { path: 'sites', label: 'site', create: siteCreateSchema, patch: sitePatchSchema, listQuery: siteListQuerySchema, resource: siteSchema },
];

export function hierarchyRoutes(api: ApiRegistry, s: Services): void {
  for (const level of LEVELS) {
    const tag = 'hierarchy';
    api.add({
      method: 'GET',
      url: `/${level.path}`,
      summary: `List ${level.path}`,
      tag,
      access: 'read',
      query: level.listQuery,
      response: z.array(level.resource),
      handler: async ({ query }) => s.hierarchy.list(level.path, query.tenantId ?? query.organizationId),
    });
    api.add({
      method: 'POST',
      url: `/${level.path}`,
      summary: `Create a ${level.label}`,
      tag,
      access: 'write',
      body: level.create,
      response: level.resource,
      status: 201,
      handler: async ({ actor, body }) => s.hierarchy.create(actor, level.path, body),
    });
    api.add({
      method: 'GET',
      url: `/${level.path}/:id`,
      summary: `Get a ${level.label}`,
      tag,
      access: 'read',
      params: idParams,
      response: level.resource,
      handler: async ({ params }) => s.hierarchy.get(level.path, params.id),
    });
    api.add({
      method: 'PATCH',
      url: `/${level.path}/:id`,
      summary: `Rename a ${level.label}`,
      tag,
      access: 'write',
      params: idParams,
      body: level.patch,
      response: level.resource,
      handler: async ({ actor, params, body }) => s.hierarchy.rename(actor, level.path, params.id, body),
    });
    api.add({
      method: 'DELETE',
      url: `/${level.path}/:id`,
      summary: `Delete an empty ${level.label}`,
      tag,
      access: 'write',
      params: idParams,
      status: 204,
      handler: async ({ actor, params }) => s.hierarchy.remove(actor, level.path, params.id),
    });
  }
}
