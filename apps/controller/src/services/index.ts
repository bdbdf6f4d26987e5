import type { Logger } from 'pino';
import { ProvisioningService, type ProvisioningOptions } from '../provisioning/provisioning-service';
import { AccountService } from './account-service';
import { AuditRetention, type AuditRetentionOptions } from './audit-retention';
import { AuthService, type AuthOptions } from './auth-service';
import type { ServiceContext } from './context';
import { EnrollmentService } from './enrollment-service';
import { HierarchyService } from './hierarchy-service';
import { NodeService } from './node-service';
import { RouteService } from './route-service';
import { UpstreamHealthService } from './upstream-health-service';

export interface Services {
  ctx: ServiceContext;
  hierarchy: HierarchyService;
  nodes: NodeService;
  routes: RouteService;
  upstreamHealth: UpstreamHealthService;
  auth: AuthService;
  accounts: AccountService;
  enrollment: EnrollmentService;
  provisioning: ProvisioningService;
  auditRetention: AuditRetention;
}

export function createServices(ctx: ServiceContext, opts: AuthOptions & AuditRetentionOptions, provisioning: ProvisioningOptions, log: Logger): Services {
  const auth = new AuthService(ctx, opts);
  return {
    ctx,
    hierarchy: new HierarchyService(ctx),
    nodes: new NodeService(ctx),
    routes: new RouteService(ctx),
    upstreamHealth: new UpstreamHealthService(ctx),
    auth,
    accounts: new AccountService(ctx, auth),
    enrollment: new EnrollmentService(ctx),
    provisioning: new ProvisioningService(ctx, provisioning, log),
    auditRetention: new AuditRetention(ctx, opts),
  };
}
