/** Where `caddyfleet-agent install` puts things on a host. One place, so install, uninstall and the unit agree. */
export const INSTALL = {
  user: 'caddyfleet-agent',
  unitName: 'caddyfleet-agent.service',
  unitFile: '/etc/systemd/system/caddyfleet-agent.service',
  binary: '/usr/local/bin/caddyfleet-agent',
  configDir: '/etc/caddyfleet-agent',
  configFile: '/etc/caddyfleet-agent/config.env',
  /** Matches the unit's StateDirectory=caddyfleet-agent. */
  stateDir: '/var/lib/caddyfleet-agent',
  caddyBin: '/usr/bin/caddy',
  /** The Debian/Ubuntu package's own service, which would hold :80 and :443. */
  caddyPackageUnit: 'caddy.service',
  nologin: '/usr/sbin/nologin',
} as const;
