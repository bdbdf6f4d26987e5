import type { Logger } from 'pino';
import { ProvisioningService, type ProvisioningOptions } from '../provisioning/provisioning-service';
import { AuthService, type AuthOptions } from './auth-service';
import type { ServiceContext } from './context';
import { EnrollmentService } from './enrollment-service';
import { HierarchyService } from './hierarchy-service';
import { NodeService } from './node-service';
import { RouteService } from './route-service';

export interface Services {
  ctx: ServiceContext;
  hierarchy: HierarchyService;
  nodes: NodeService;
  routes: RouteService;
  auth: AuthService;
  enrollment: EnrollmentService;
  provisioning: ProvisioningService;
}

export function createServices(ctx: ServiceContext, auth: AuthOptions, provisioning: ProvisioningOptions, log: Logger): Services {
  return {
    ctx,
    hierarchy: new HierarchyService(ctx),
    nodes: new NodeService(ctx),
    routes: new RouteService(ctx),
    auth: new AuthService(ctx, auth),
    enrollment: new EnrollmentService(ctx),
    provisioning: new ProvisioningService(ctx, provisioning, log),
  };
}
