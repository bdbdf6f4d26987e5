import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FIREWALL_SYNC_SCRIPT, SYSCTL_SETTINGS, fail2banScript, firewallScript, shq, sysctlScript, unattendedUpgradesScript } from './hardening';

function bashSyntaxError(script: string): string | null {
  try {
    execFileSync('bash', ['-n'], { input: script, stdio: ['pipe', 'pipe', 'pipe'] });
    return null;
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? err);
  }
}

describe('hardening scripts', () => {
  it('are valid bash', () => {
    for (const s of [firewallScript(2222, ['5432/tcp', '53/udp']), fail2banScript(22, '10.0.0.1'), fail2banScript(22, null), unattendedUpgradesScript(), sysctlScript(), FIREWALL_SYNC_SCRIPT]) {
      expect(bashSyntaxError(s)).toBeNull();
    }
  });

  it('keep the SSH port in use open and never ban the controller', () => {
    expect(firewallScript(2222, [])).toContain('ufw allow 2222/tcp');
    expect(firewallScript(2222, []).indexOf('ufw allow 2222/tcp')).toBeLessThan(firewallScript(2222, []).indexOf('ufw --force enable'));
    expect(fail2banScript(2222, '192.0.2.7')).toMatch(/port = 2222\n[\s\S]*ignoreip = 127\.0\.0\.1\/8 ::1 192\.0\.2\.7/);
    expect(fail2banScript(22, null)).toContain('backend = systemd');
  });

  it('writes every sysctl with the ignore-failure prefix and applies each one', () => {
    const s = sysctlScript();
    for (const [k, v] of SYSCTL_SETTINGS) {
      expect(s).toContain(`-${k} = ${v}`);
      expect(s).toContain(`apply '${k}' '${v}'`);
    }
  });

  it('quotes for bash', () => {
    expect(shq("it's")).toBe(`'it'\\''s'`);
    expect(execFileSync('bash', ['-c', `printf %s ${shq("a'b $x `y` \\")}`]).toString()).toBe("a'b $x `y` \\");
  });
});
