/**
 * The systemd unit of an installed agent. Hardened as far as Node and Caddy allow: no MemoryDenyWriteExecute
 * (V8's JIT needs writable+executable memory), and `@pkey` next to `@system-service` (Node calls pkey_alloc at
 * start and dies of SIGSYS without it). Caddy runs as the agent's child in the same sandbox, and binds :80 and
 * :443 through the one ambient capability.
 */
import { EXIT_CONFIG } from '../bin/exit';
import { INSTALL } from './paths';

export const UNIT_HARDENING: ReadonlyArray<readonly [string, string]> = [
  ['NoNewPrivileges', 'yes'],
  ['ProtectSystem', 'strict'],
  ['ProtectHome', 'yes'],
  ['PrivateTmp', 'yes'],
  ['PrivateDevices', 'yes'],
  ['ProtectKernelTunables', 'yes'],
  ['ProtectKernelModules', 'yes'],
  ['ProtectKernelLogs', 'yes'],
  ['ProtectControlGroups', 'yes'],
  ['ProtectClock', 'yes'],
  ['ProtectHostname', 'yes'],
  ['RestrictNamespaces', 'yes'],
  ['RestrictSUIDSGID', 'yes'],
  ['LockPersonality', 'yes'],
  ['RestrictRealtime', 'yes'],
  // AF_NETLINK: Node lists network interfaces (os.networkInterfaces) through it.
  ['RestrictAddressFamilies', 'AF_UNIX AF_INET AF_INET6 AF_NETLINK'],
  ['SystemCallArchitectures', 'native'],
  ['SystemCallFilter', '@system-service @pkey'],
  ['CapabilityBoundingSet', 'CAP_NET_BIND_SERVICE'],
  ['AmbientCapabilities', 'CAP_NET_BIND_SERVICE'],
  ['UMask', '0077'],
];

export function renderUnit(): string {
  return `# Written by \`caddyfleet-agent install\`; running it again rewrites this file.
[Unit]
Description=caddyfleet agent (keeps this host's Caddy serving its node's routes)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=${INSTALL.user}
Group=${INSTALL.user}
EnvironmentFile=${INSTALL.configFile}
ExecStart=${INSTALL.binary} run
StateDirectory=caddyfleet-agent
StateDirectoryMode=0700
Restart=always
RestartSec=2
# Bad options, a damaged state file or a revoked key: starting again cannot help.
RestartPreventExitStatus=${EXIT_CONFIG}
# Only the agent is stopped on stop/restart: the Caddy it manages keeps serving and the next agent adopts it
# (CADDYFLEET_KEEP_CADDY=true in the config). \`caddyfleet-agent uninstall\` stops that Caddy too.
KillMode=process
LimitNOFILE=1048576
${UNIT_HARDENING.map(([k, v]) => `${k}=${v}`).join('\n')}

[Install]
WantedBy=multi-user.target
`;
}
