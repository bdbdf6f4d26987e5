import { z } from 'zod';
import { LIMITS } from './limits';
import { nameSchema } from './validators';

export const USER_ROLES = ['admin', 'viewer'] as const;
export const userRoleSchema = z.enum(USER_ROLES);
export type UserRole = z.infer<typeof userRoleSchema>;

export const loginSchema = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(LIMITS.password),
});
export const userSchema = z.object({ id: z.string(), username: z.string(), role: userRoleSchema, createdAt: z.string() });
export const passwordSchema = z.string().min(12, 'must be at least 12 characters').max(LIMITS.password);
export const userCreateSchema = z.strictObject({
  username: z.string().min(1).max(64).regex(/^[a-zA-Z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
  password: passwordSchema,
  role: userRoleSchema.default('viewer'),
});
/** `POST /auth/password`: change your own password; your other sessions end. */
export const passwordChangeSchema = z.strictObject({
  currentPassword: z.string().min(1, 'is required').max(LIMITS.password),
  newPassword: passwordSchema,
});
/** `PATCH /users/:id` (admins): a new password (ends all the user's sessions) and/or another role. */
export const userPatchSchema = z
  .strictObject({ password: passwordSchema.optional(), role: userRoleSchema.optional() })
  .refine((p) => p.password !== undefined || p.role !== undefined, 'give a password, a role or both');
/** A signed-in dashboard session (never its secret). */
export const sessionSchema = z.object({
  id: z.string(),
  userId: z.string(),
  username: z.string(),
  createdAt: z.string(),
  expiresAt: z.string(),
  /** The session this request was made with. */
  current: z.boolean(),
});
export const apiTokenCreateSchema = z.strictObject({ name: nameSchema });
export const apiTokenCreatedSchema = z.object({ id: z.string(), token: z.string() });
export const apiTokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  userId: z.string(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
});
export const auditEntrySchema = z.object({
  id: z.string(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  entityType: z.string(),
  entityId: z.string(),
  before: z.unknown().nullable(),
  after: z.unknown().nullable(),
});
export const auditListQuerySchema = z.strictObject({
  entityType: z.string().max(32).optional(),
  entityId: z.string().max(64).optional(),
  actor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});
