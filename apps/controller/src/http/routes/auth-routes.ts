import { z } from 'zod';
import { apiTokenCreateSchema, apiTokenCreatedSchema, apiTokenSchema, loginSchema, userCreateSchema, userSchema } from '@caddyfleet/protocol';
import { isDatabaseUnavailable } from '../../db/availability';
import type { Services } from '../../services';
import { idParams, type ActorResolver, type ApiRegistry } from '../api';
import { SESSION_COOKIE, readCookie, sessionCookie } from '../cookies';

export function authRoutes(api: ApiRegistry, s: Services, sessionTtlHours: number, resolveActor: ActorResolver): void {
  api.add({
    method: 'POST',
    url: '/auth/login',
    summary: 'Log in; sets the session cookie',
    tag: 'auth',
    access: 'public',
    body: loginSchema,
    response: z.object({ user: userSchema }),
    handler: async ({ body, req, reply }) => {
      const { sessionSecret, user } = await s.auth.login(req.ip, body.username, body.password);
      reply.header('set-cookie', sessionCookie(sessionSecret, { secure: req.protocol === 'https', maxAgeSeconds: sessionTtlHours * 3600 }));
      return { user };
    },
  });
  api.add({
    method: 'POST',
    url: '/auth/logout',
    summary: 'End the current session',
    tag: 'auth',
    access: 'read',
    status: 204,
    handler: async ({ req, reply }) => {
      const secret = readCookie(req.headers.cookie, SESSION_COOKIE);
      if (secret) await s.auth.logout(secret);
      reply.header('set-cookie', sessionCookie('', { secure: req.protocol === 'https', maxAgeSeconds: 0 }));
    },
  });
  api.add({
    method: 'GET',
    url: '/auth/session',
    summary: 'Whether this request is signed in (never 401), for a first page load',
    tag: 'auth',
    access: 'public',
    response: z.object({ authenticated: z.boolean(), user: z.object({ id: z.string(), label: z.string(), role: z.string(), kind: z.string() }).nullable() }),
    handler: async ({ req }) => {
      // A bad credential means "not signed in"; a database that is away is an error (503), not a sign-out.
      const actor = await resolveActor(req).catch((err: unknown) => {
        if (isDatabaseUnavailable(err)) throw err;
        return null;
      });
      return { authenticated: actor !== null, user: actor && { id: actor.id, label: actor.label, role: actor.role, kind: actor.kind } };
    },
  });
  api.add({
    method: 'GET',
    url: '/auth/me',
    summary: 'Who am I',
    tag: 'auth',
    access: 'read',
    response: z.object({ id: z.string(), label: z.string(), role: z.string(), kind: z.string() }),
    handler: async ({ actor }) => ({ id: actor.id, label: actor.label, role: actor.role, kind: actor.kind }),
  });
  api.add({
    method: 'GET',
    url: '/users',
    summary: 'List users',
    tag: 'auth',
    access: 'write',
    response: z.array(userSchema),
    handler: async () => s.auth.listUsers(),
  });
  api.add({
    method: 'POST',
    url: '/users',
    summary: 'Create a user (admin or viewer)',
    tag: 'auth',
    access: 'write',
    body: userCreateSchema,
    response: userSchema,
    status: 201,
    handler: async ({ actor, body }) => s.auth.createUser(actor, body),
  });
  api.add({
    method: 'GET',
    url: '/tokens',
    summary: 'List API tokens (admins see all, others their own)',
    tag: 'auth',
    access: 'read',
    response: z.array(apiTokenSchema),
    handler: async ({ actor }) => s.auth.listApiTokens(actor.role === 'admin' ? null : await s.auth.userIdOf(actor)),
  });
  api.add({
    method: 'POST',
    url: '/tokens',
    summary: 'Create an API token for scripts; the secret is shown only in this response',
    tag: 'auth',
    access: 'read',
    body: apiTokenCreateSchema,
    response: apiTokenCreatedSchema,
    status: 201,
    handler: async ({ actor, body }) => s.auth.createApiToken(actor, await s.auth.userIdOf(actor), body.name),
  });
  api.add({
    method: 'DELETE',
    url: '/tokens/:id',
    summary: 'Revoke an API token',
    tag: 'auth',
    access: 'read',
    params: idParams,
    status: 204,
    handler: async ({ actor, params }) => s.auth.revokeApiToken(actor, params.id, actor.role === 'admin' ? null : await s.auth.userIdOf(actor)),
  });
}
