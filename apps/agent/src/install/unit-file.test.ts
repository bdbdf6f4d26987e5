import { describe, expect, it } from 'vitest';
import { INSTALL } from './paths';
import { renderUnit } from './unit-file';

/** [Section] → key → values (a key may repeat). */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = '';
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      out[section] = {};
      continue;
    }
    const i = line.indexOf('=');
    expect(i, `not a key=value line: ${line}`).toBeGreaterThan(0);
    ((out[section]![line.slice(0, i)] ??= [])).push(line.slice(i + 1));
  }
  return out;
}

describe('renderUnit', () => {
  const unit = parseUnit(renderUnit());
  const service = unit.Service!;
  const one = (key: string) => {
    expect(service[key], key).toHaveLength(1);
    return service[key]![0];
  };

  it('runs the installed binary as its own user with its config and state dir', () => {
    expect(one('User')).toBe(INSTALL.user);
    expect(one('Group')).toBe(INSTALL.user);
    expect(one('ExecStart')).toBe(`${INSTALL.binary} run`);
    expect(one('EnvironmentFile')).toBe(INSTALL.configFile);
    expect(`/var/lib/${one('StateDirectory')}`).toBe(INSTALL.stateDir);
    expect(one('StateDirectoryMode')).toBe('0700');
    expect(one('Restart')).toBe('always');
    expect(one('RestartPreventExitStatus')).toBe('78');
    // Caddy survives agent restarts and is adopted by the next agent.
    expect(one('KillMode')).toBe('process');
    expect(unit.Install).toEqual({ WantedBy: ['multi-user.target'] });
  });

  it('is hardened, with the exceptions Node needs', () => {
    expect(service).toMatchObject({
      NoNewPrivileges: ['yes'],
      ProtectSystem: ['strict'],
      ProtectHome: ['yes'],
      PrivateTmp: ['yes'],
      PrivateDevices: ['yes'],
      ProtectKernelTunables: ['yes'],
      ProtectKernelModules: ['yes'],
      ProtectKernelLogs: ['yes'],
      ProtectControlGroups: ['yes'],
      ProtectClock: ['yes'],
      ProtectHostname: ['yes'],
      RestrictNamespaces: ['yes'],
      RestrictSUIDSGID: ['yes'],
      LockPersonality: ['yes'],
      RestrictRealtime: ['yes'],
      RestrictAddressFamilies: ['AF_UNIX AF_INET AF_INET6 AF_NETLINK'],
      SystemCallArchitectures: ['native'],
      SystemCallFilter: ['@system-service @pkey'],
      CapabilityBoundingSet: ['CAP_NET_BIND_SERVICE'],
      AmbientCapabilities: ['CAP_NET_BIND_SERVICE'],
      UMask: ['0077'],
    });
    // V8's JIT needs W+X memory.
    expect(service.MemoryDenyWriteExecute).toBeUndefined();
  });
});
