/**
 * SSH provisioning: the controller logs in to a fresh Debian/Ubuntu host, installs Caddy and the agent, hardens
 * the host, and brings the node online. Credentials travel in these bodies only; the controller never stores them.
 */
import { z } from 'zod';
import { LIMITS } from './limits';
import { idSchema, nameSchema, portSchema, upstreamHostSchema } from './validators';
import { nodeSchema } from './fleet';
import { routeSchema } from './routes';

/** OpenSSH's spelling of a SHA-256 host key fingerprint, as `ssh-keygen -lf` prints it. */
export const hostKeySha256Schema = z
  .string()
  .trim()
  .regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'must be an OpenSSH SHA-256 fingerprint such as SHA256:abc…(43 characters), as printed by ssh-keygen -lf');

/** A POSIX login name (what useradd accepts), so it never needs quoting. */
export const sshUserSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(32)
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must be a login name (letters, digits, dot, dash, underscore)');

export const PRIVATE_KEY_MAX = 16 * 1024;

export const sshCredentialsSchema = z
  .strictObject({
    host: upstreamHostSchema,
    port: portSchema.default(22),
    user: sshUserSchema,
    /** Login password; also the sudo password when `user` is not root. */
    password: z.string().min(1, 'must not be empty').max(LIMITS.password).optional(),
    /** OpenSSH or PEM private key text. */
    privateKey: z
      .string()
      .max(PRIVATE_KEY_MAX, `must be at most ${PRIVATE_KEY_MAX} bytes`)
      .refine((v) => /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(v), 'must be a private key (-----BEGIN … PRIVATE KEY-----)')
      .optional(),
    passphrase: z.string().min(1).max(LIMITS.password).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.password === undefined && v.privateKey === undefined) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'give a password or a private key' });
    }
    if (v.passphrase !== undefined && v.privateKey === undefined) {
      ctx.addIssue({ code: 'custom', path: ['passphrase'], message: 'a passphrase only goes with a private key' });
    }
  });
export type SshCredentials = z.output<typeof sshCredentialsSchema>;

export const provisionRequestSchema = z.strictObject({
  name: nameSchema,
  siteId: idSchema,
  ssh: sshCredentialsSchema,
  /** Expected host key; without it the key seen on first contact is trusted and stored. */
  hostKeySha256: hostKeySha256Schema.optional(),
});
export type ProvisionRequest = z.output<typeof provisionRequestSchema>;

export const reprovisionRequestSchema = z.strictObject({
  ssh: sshCredentialsSchema,
  /** Replaces the stored host key (after a reinstall, for instance); without it the stored key must match. */
  hostKeySha256: hostKeySha256Schema.optional(),
});
export type ReprovisionRequest = z.output<typeof reprovisionRequestSchema>;

export const PROVISION_STEPS = [
  'connect',
  'check-os',
  'caddy',
  'agent-binary',
  'users',
  'config',
  'units',
  'firewall',
  'fail2ban',
  'unattended-upgrades',
  'sysctl',
  'start-agent',
  'wait-online',
] as const;
export type ProvisionStepName = (typeof PROVISION_STEPS)[number];

/** `warning`: done, with something the host refused that is reported rather than fatal (a read-only sysctl). */
export const PROVISION_STEP_STATUSES = ['pending', 'running', 'succeeded', 'warning', 'failed', 'skipped'] as const;
export const provisionStepStatusSchema = z.enum(PROVISION_STEP_STATUSES);
export type ProvisionStepStatus = z.infer<typeof provisionStepStatusSchema>;

export const provisionStepSchema = z.object({
  name: z.enum(PROVISION_STEPS),
  status: provisionStepStatusSchema,
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  message: z.string().nullable(),
});
export type ProvisionStep = z.infer<typeof provisionStepSchema>;

export const PROVISION_JOB_STATUSES = ['running', 'succeeded', 'failed'] as const;
export const provisionJobStatusSchema = z.enum(PROVISION_JOB_STATUSES);
export type ProvisionJobStatus = z.infer<typeof provisionJobStatusSchema>;

export const provisionJobSchema = z.object({
  id: z.string(),
  nodeId: z.string(),
  kind: z.enum(['provision', 'reprovision']),
  status: provisionJobStatusSchema,
  steps: z.array(provisionStepSchema),
  /** The output, newest last; capped in size (the oldest lines go first, marked). */
  log: z.string(),
  /** `user@host:port` (never a credential). */
  target: z.string(),
  hostKeySha256: z.string().nullable(),
  error: z.string().nullable(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  createdBy: z.string(),
});
export type ProvisionJob = z.infer<typeof provisionJobSchema>;

export const provisionStartedSchema = z.object({ node: nodeSchema, job: provisionJobSchema });

/** `DELETE /nodes/:id`: the node's routes now on the local node, and what to run on the removed host. */
export const nodeDeletedSchema = z.object({
  reassignedRoutes: z.array(routeSchema),
  uninstall: z.array(z.string()),
});
export type NodeDeleted = z.infer<typeof nodeDeletedSchema>;

/**
 * Events of `GET /nodes/:id/provisioning/stream`: `job` (the state without its log, first and whenever the job
 * status changes), `line` (one output line), `step` (one step changed), `done` (the job ended; the stream closes).
 */
export const provisionLineEventSchema = z.object({ seq: z.number().int(), text: z.string() });
export const provisionDoneEventSchema = z.object({ status: provisionJobStatusSchema, error: z.string().nullable(), endedAt: z.string().nullable() });
