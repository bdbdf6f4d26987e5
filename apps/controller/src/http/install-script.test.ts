import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { installCommand, renderInstallScript } from './install-script';

describe('installCommand', () => {
  it('puts the token in the environment of sh, not in any argv', () => {
    expect(installCommand('https://fleet.example.com', 'cfe_AbC-12_x')).toBe(
      'curl -fsSL https://fleet.example.com/install.sh | CADDYFLEET_ENROLLMENT_TOKEN=cfe_AbC-12_x sh',
    );
  });

  it('quotes what a shell would interpret', () => {
    expect(installCommand('http://[::1]:8080', "odd'token")).toBe(
      `curl -fsSL -g 'http://[::1]:8080/install.sh' | CADDYFLEET_ENROLLMENT_TOKEN='odd'\\''token' sh`,
    );
  });

  it('refuses a URL that is not shell-safe', () => {
    expect(() => installCommand('https://x.example/$(id)', 'cfe_x')).toThrow(/not shell-safe/);
    expect(() => renderInstallScript("https://x.example/'")).toThrow(/not shell-safe/);
  });
});

describe('renderInstallScript', () => {
  const script = renderInstallScript('http://10.200.1.1:8080');

  it('is valid POSIX sh (dash) and bash', () => {
    for (const shell of ['/bin/sh', '/bin/bash']) {
      const r = spawnSync(shell, ['-n'], { input: script, encoding: 'utf8' });
      expect(r.stderr, shell).toBe('');
      expect(r.status, shell).toBe(0);
    }
  });

  it('downloads from the controller it names, verifies the checksum and hands the token over stdin', () => {
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain("CONTROLLER='http://10.200.1.1:8080'");
    expect(script).toContain('"$CONTROLLER/downloads/$ARTIFACT"');
    expect(script).toContain('sha256sum "$bin"');
    expect(script).toContain(`printf '%s\\n' "$token" | "$bin" install --controller "$CONTROLLER" --token-stdin "$@"`);
    // Everything runs from main at the very end: a truncated download executes nothing.
    expect(script.trimEnd().endsWith('main "$@"')).toBe(true);
  });
});
