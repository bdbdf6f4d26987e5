import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  auditEntrySchema,
  auditListQuerySchema,
  enrollRequestSchema,
  enrollResponseSchema,
  enrollmentTokenCreateSchema,
  enrollmentTokenCreatedSchema,
  enrollmentTokenSchema,
  nodeDeletedSchema,
  nodeCertificatesSchema,
  nodeListQuerySchema,
  nodePatchSchema,
  nodeSchema,
} from '@caddyfleet/protocol';
import { listAudit } from '../../services/audit-service';
import type { Services } from '../../services';
import { idParams, type ApiRegistry } from '../api';
import { installCommand } from '../install-script';

/** `publicUrlOf`: the controller's URL for agents (--public-url, else the request's), used in the install command. */
export function fleetRoutes(api: ApiRegistry, s: Services, publicUrlOf: (req: FastifyRequest) => string): void {
  api.add({
    method: 'GET',
    url: '/nodes',
    summary: 'List nodes',
    tag: 'fleet',
    access: 'read',
    query: nodeListQuerySchema,
    response: z.array(nodeSchema),
    handler: async ({ query }) => s.nodes.list(query.siteId),
  });
  api.add({
    method: 'GET',
    url: '/nodes/:id',
    summary: 'Get a node',
    tag: 'fleet',
    access: 'read',
    params: idParams,
    response: nodeSchema,
    handler: async ({ params }) => s.nodes.get(params.id),
  });
  api.add({
    method: 'GET',
    url: '/nodes/:id/certificates',
    summary: "The certificates the node's Caddy holds, as its agent reported them, soonest expiry first",
    tag: 'fleet',
    access: 'read',
    params: idParams,
    response: nodeCertificatesSchema,
    handler: async ({ params }) => s.nodes.certificates(params.id),
  });
  api.add({
    method: 'PATCH',
    url: '/nodes/:id',
    summary: 'Rename a node or move it to another site',
    tag: 'fleet',
    access: 'write',
    params: idParams,
    body: nodePatchSchema,
    response: nodeSchema,
    handler: async ({ actor, params, body }) => s.nodes.patch(actor, params.id, body),
  });
  api.add({
    method: 'DELETE',
    url: '/nodes/:id',
    summary: 'Delete a node: its routes move to the local node, its agent key is revoked; answers the commands that remove the agent from the host',
    tag: 'fleet',
    access: 'write',
    params: idParams,
    response: nodeDeletedSchema,
    handler: async ({ actor, params }) => {
      await s.provisioning.cancel(params.id);
      return s.nodes.remove(actor, params.id);
    },
  });
  api.add({
    method: 'POST',
    url: '/nodes/:id/revoke',
    summary: "Revoke a node's agent key and disconnect it",
    tag: 'fleet',
    access: 'write',
    params: idParams,
    response: nodeSchema,
    handler: async ({ actor, params }) => s.nodes.revoke(actor, params.id),
  });
  api.add({
    method: 'POST',
    url: '/sites/:id/enrollment-tokens',
    summary: 'Create a single-use enrollment token for a new agent in this site; the secret and the install command are shown only here',
    tag: 'fleet',
    access: 'write',
    params: idParams,
    body: enrollmentTokenCreateSchema,
    response: enrollmentTokenCreatedSchema,
    status: 201,
    handler: async ({ actor, params, body, req }) => {
      // Before the token exists: a request whose URL cannot be used must not leave an unused token behind.
      const publicUrl = publicUrlOf(req);
      const created = await s.enrollment.createToken(actor, params.id, body.ttlSeconds);
      return { ...created, publicUrl, command: installCommand(publicUrl, created.token) };
    },
  });
  api.add({
    method: 'GET',
    url: '/sites/:id/enrollment-tokens',
    summary: 'List the enrollment tokens of a site (never their secrets)',
    tag: 'fleet',
    access: 'read',
    params: idParams,
    response: z.array(enrollmentTokenSchema),
    handler: async ({ params }) => s.enrollment.listTokens(params.id),
  });
  api.add({
    method: 'DELETE',
    url: '/enrollment-tokens/:id',
    summary: 'Revoke an unused enrollment token',
    tag: 'fleet',
    access: 'write',
    params: idParams,
    status: 204,
    handler: async ({ actor, params }) => s.enrollment.revokeToken(actor, params.id),
  });
  api.add({
    method: 'POST',
    url: '/agent/enroll',
    summary: 'Agent enrollment: spends a token, returns the node id and the agent key',
    tag: 'agent',
    access: 'agent',
    body: enrollRequestSchema,
    response: enrollResponseSchema,
    status: 201,
    handler: async ({ body, req }) => s.enrollment.enrollFrom(req.ip, body),
  });
  api.add({
    method: 'GET',
    url: '/audit',
    summary: 'The audit log, newest first',
    tag: 'audit',
    access: 'read',
    query: auditListQuerySchema,
    response: z.array(auditEntrySchema),
    handler: async ({ query }) => listAudit(s.ctx, query),
  });
}
