/** Resource types, taken from the protocol package so the dashboard and the API cannot drift apart. */
import type { z } from 'zod';
import type { apiTokenSchema, auditEntrySchema, enrollmentTokenSchema, userSchema } from '@caddyfleet/protocol';

export type { FleetNode, NodeStatus, Organization, Route, RouteKind, Site, Tenant } from '@caddyfleet/protocol';

export type ApiToken = z.infer<typeof apiTokenSchema>;
export type AuditEntry = z.infer<typeof auditEntrySchema>;
/** `GET /sites/:id/enrollment-tokens` (never the secret). */
export type EnrollmentToken = z.infer<typeof enrollmentTokenSchema>;
export type User = z.infer<typeof userSchema>;

/** `GET /auth/me`. */
export interface Me {
  id: string;
  label: string;
  role: string;
  kind: string;
}

/** The node id the API uses for the controller's own node (routes store it as `nodeId: null`). */
export const LOCAL_NODE_ID = 'local';
