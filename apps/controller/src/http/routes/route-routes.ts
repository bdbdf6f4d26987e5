import { z } from 'zod';
import { routeBatchResultSchema, routeBatchSchema, routeCreateSchema, routeListQuerySchema, routePatchSchema, routeSchema } from '@caddyfleet/protocol';
import type { Services } from '../../services';
import { idParams, type ApiRegistry } from '../api';

export function routeRoutes(api: ApiRegistry, s: Services): void {
  api.add({
    method: 'GET',
    url: '/routes',
    summary: 'List routes; proxy routes with the health of each upstream (upstreamHealth)',
    tag: 'routes',
    access: 'read',
    query: routeListQuerySchema,
    response: z.array(routeSchema),
    handler: async ({ query }) => s.upstreamHealth.attach(await s.routes.list(query)),
  });
  api.add({
    method: 'POST',
    url: '/routes',
    summary: 'Create a proxy, redirect, stream or dead route',
    tag: 'routes',
    access: 'write',
    body: routeCreateSchema,
    response: routeSchema,
    status: 201,
    handler: async ({ actor, body }) => s.routes.create(actor, body),
  });
  api.add({
    method: 'POST',
    url: '/routes/batch',
    summary: 'Create, change and delete many routes in one transaction (all or nothing)',
    tag: 'routes',
    access: 'write',
    body: routeBatchSchema,
    response: routeBatchResultSchema,
    handler: async ({ actor, body }) => s.routes.batch(actor, body),
  });
  api.add({
    method: 'GET',
    url: '/routes/:id',
    summary: 'Get a route; a proxy route with the health of each upstream (upstreamHealth)',
    tag: 'routes',
    access: 'read',
    params: idParams,
    response: routeSchema,
    handler: async ({ params }) => s.upstreamHealth.attachOne(await s.routes.get(params.id)),
  });
  api.add({
    method: 'PATCH',
    url: '/routes/:id',
    summary: 'Change a route; the result is validated as a whole',
    tag: 'routes',
    access: 'write',
    params: idParams,
    body: routePatchSchema,
    response: routeSchema,
    handler: async ({ actor, params, body }) => s.routes.patch(actor, params.id, body),
  });
  api.add({
    method: 'DELETE',
    url: '/routes/:id',
    summary: 'Delete a route',
    tag: 'routes',
    access: 'write',
    params: idParams,
    status: 204,
    handler: async ({ actor, params }) => s.routes.remove(actor, params.id),
  });
}
