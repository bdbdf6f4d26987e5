import { useMemo } from 'react';
import type { Organization, Site, Tenant } from '../api/types';
import { useApi } from './useApi';

export interface SiteOption {
  site: Site;
  org: Organization | undefined;
  tenant: Tenant | undefined;
  /** "Tenant / Organization / Site" */
  path: string;
}

/** Tenants, organizations and sites in one go, with a readable path per site. */
export function useHierarchy() {
  const tenants = useApi<Tenant[]>('/tenants');
  const orgs = useApi<Organization[]>('/organizations');
  const sites = useApi<Site[]>('/sites');
  const siteOptions = useMemo<SiteOption[] | null>(() => {
    if (!tenants.data || !orgs.data || !sites.data) return null;
    return sites.data
      .map((site) => {
        const org = orgs.data!.find((o) => o.id === site.organizationId);
        const tenant = tenants.data!.find((t) => t.id === org?.tenantId);
        return { site, org, tenant, path: [tenant?.name, org?.name, site.name].filter(Boolean).join(' / ') };
      })
      .sort((a, b) => a.path.localeCompare(b.path));
  }, [tenants.data, orgs.data, sites.data]);
  const error = tenants.error ?? orgs.error ?? sites.error;
  const reload = () => {
    tenants.reload();
    orgs.reload();
    sites.reload();
  };
  return { tenants, orgs, sites, siteOptions, error, reload };
}
