import { z } from 'zod';
import { passwordChangeSchema, sessionSchema, userPatchSchema, userSchema } from '@caddyfleet/protocol';
import type { Services } from '../../services';
import { idParams, type ApiRegistry } from '../api';

export function accountRoutes(api: ApiRegistry, s: Services): void {
  api.add({
    method: 'POST',
    url: '/auth/password',
    summary: 'Change your own password; your other sessions end (API tokens stay valid)',
    tag: 'auth',
    access: 'read',
    body: passwordChangeSchema,
    response: z.object({ endedSessions: z.number() }),
    handler: async ({ actor, body, req }) => s.accounts.changePassword(actor, req.ip, body.currentPassword, body.newPassword),
  });
  api.add({
    method: 'PATCH',
    url: '/users/:id',
    summary: "Reset a user's password (ending their sessions) or change their role",
    tag: 'auth',
    access: 'write',
    params: idParams,
    body: userPatchSchema,
    response: userSchema,
    handler: async ({ actor, params, body }) => s.accounts.updateUser(actor, params.id, body),
  });
  api.add({
    method: 'DELETE',
    url: '/users/:id',
    summary: 'Remove a user with their sessions and API tokens (not the last admin)',
    tag: 'auth',
    access: 'write',
    params: idParams,
    status: 204,
    handler: async ({ actor, params }) => s.accounts.deleteUser(actor, params.id),
  });
  api.add({
    method: 'GET',
    url: '/sessions',
    summary: 'Signed-in dashboard sessions (admins see all, others their own)',
    tag: 'auth',
    access: 'read',
    response: z.array(sessionSchema),
    handler: async ({ actor }) => s.accounts.listSessions(actor.role === 'admin' ? null : await s.auth.userIdOf(actor), actor.session),
  });
  api.add({
    method: 'DELETE',
    url: '/sessions/:id',
    summary: 'End a session (admins any, others their own); its open event streams end too',
    tag: 'auth',
    access: 'read',
    params: idParams,
    status: 204,
    handler: async ({ actor, params }) => s.accounts.revokeSession(actor, params.id, actor.role === 'admin' ? null : await s.auth.userIdOf(actor)),
  });
}
