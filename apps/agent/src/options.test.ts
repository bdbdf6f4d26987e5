import { describe, expect, it } from 'vitest';
import { AGENT_OPTIONS, loadAgentOptions } from './options';
import { BASE_FLAGS as base, refusalOf as problems } from '../test-support/options';

describe('loadAgentOptions', () => {
  it('fills the defaults', () => {
    const o = loadAgentOptions(base, {});
    expect(o).toMatchObject({
      stateDir: '/var/lib/caddyfleet-agent',
      caddyBin: '/usr/bin/caddy',
      httpListen: ':80',
      httpsListen: ':443',
      driftCheckSeconds: 30,
      logLevel: 'info',
      reconnectMinMs: 1000,
      reconnectMaxMs: 60_000,
    });
    expect(o.name.length).toBeGreaterThan(0);
    expect(o.controller).toBeUndefined();
  });

  it('takes every option from its CADDYFLEET_* variable, flags first', () => {
    const env = {
      CADDYFLEET_CONTROLLER: 'https://fleet.example.com/',
      CADDYFLEET_ENROLLMENT_TOKEN: 'cfe_0123456789abcdef',
      CADDYFLEET_STATE_DIR: 'relative/state',
      CADDYFLEET_CADDY_ADMIN: 'http://127.0.0.1:2019',
      CADDYFLEET_HTTP_LISTEN: ':8080',
      CADDYFLEET_HTTPS_LISTEN: ':8443',
      CADDYFLEET_NODE_NAME: 'edge-1',
      CADDYFLEET_DRIFT_CHECK_SECONDS: '5',
      CADDYFLEET_LOG_LEVEL: 'debug',
      CADDYFLEET_RECONNECT_MIN_MS: '50',
      CADDYFLEET_RECONNECT_MAX_MS: '500',
    };
    const o = loadAgentOptions({ name: 'from-flag' }, env);
    expect(o).toMatchObject({
      controller: 'https://fleet.example.com',
      token: 'cfe_0123456789abcdef',
      caddyAdmin: 'http://127.0.0.1:2019',
      httpListen: ':8080',
      httpsListen: ':8443',
      name: 'from-flag',
      driftCheckSeconds: 5,
      logLevel: 'debug',
      reconnectMinMs: 50,
      reconnectMaxMs: 500,
    });
    expect(o.stateDir).toBe(`${process.cwd()}/relative/state`);
  });

  it('binds host-less listeners to --host-ip and leaves explicit hosts alone', () => {
    expect(loadAgentOptions({ ...base, hostIp: '127.0.0.2' }, {})).toMatchObject({ httpListen: '127.0.0.2:80', httpsListen: '127.0.0.2:443' });
    expect(loadAgentOptions({ ...base, hostIp: '::1', httpListen: '127.0.0.3:8080' }, {})).toMatchObject({
      httpListen: '127.0.0.3:8080',
      httpsListen: '[::1]:443',
    });
  });

  it('requires exactly one of --caddy-bin and --caddy-admin', () => {
    expect(problems({ stateDir: '/s' })).toMatch(/CADDYFLEET_CADDY_BIN \(--caddy-bin\): give either --caddy-bin/);
    expect(problems({ ...base, caddyAdmin: 'http://127.0.0.1:2019' })).toMatch(/--caddy-admin\): give either --caddy-bin or --caddy-admin, not both/);
  });

  it('accepts only loopback or unix admin endpoints for an existing Caddy', () => {
    for (const ok of ['http://127.0.0.1:2019', 'localhost:2019', '[::1]:2019', 'unix//run/caddy/admin.sock', 'unix:/run/caddy/admin.sock', ':2019']) {
      expect(loadAgentOptions({ stateDir: '/s', caddyAdmin: ok }, {}).caddyAdmin).toBe(ok);
    }
    expect(problems({ stateDir: '/s', caddyAdmin: 'http://10.200.0.5:2019' })).toMatch(/must be a loopback address/);
    expect(problems({ stateDir: '/s', caddyAdmin: 'https://127.0.0.1:2019' })).toMatch(/must use http/);
  });

  it('reports every bad option at once, named by env variable and flag', () => {
    const msg = problems({
      controller: 'ftp://x',
      httpListen: '80',
      httpsListen: ':99999',
      hostIp: 'not-an-ip',
      driftCheckSeconds: '-1',
      logLevel: 'loud',
    });
    expect(msg).toMatch(/^invalid agent options:/);
    for (const part of [
      'CADDYFLEET_STATE_DIR (--state-dir): is required',
      'CADDYFLEET_CONTROLLER (--controller): must use http or https',
      'CADDYFLEET_HTTP_LISTEN (--http-listen)',
      'CADDYFLEET_HTTPS_LISTEN (--https-listen)',
      'CADDYFLEET_HOST_IP (--host-ip): must be an IPv4 or IPv6 address',
      'CADDYFLEET_DRIFT_CHECK_SECONDS (--drift-check-seconds)',
      'CADDYFLEET_LOG_LEVEL (--log-level)',
    ]) {
      expect(msg).toContain(part);
    }
  });

  it('refuses identical HTTP and HTTPS ports, inverted backoff bounds and over-long state dirs', () => {
    expect(problems({ ...base, httpListen: ':8080', httpsListen: '127.0.0.1:8080' })).toMatch(/different port/);
    expect(problems({ ...base, reconnectMinMs: '5000', reconnectMaxMs: '1000' })).toMatch(/must not be larger than reconnectMaxMs/);
    expect(problems({ ...base, stateDir: '/' + 'x'.repeat(100) })).toMatch(/too long: unix sockets/);
  });

  it('reads keepCaddy as a boolean, false by default', () => {
    expect(loadAgentOptions(base, {}).keepCaddy).toBe(false);
    expect(loadAgentOptions(base, { CADDYFLEET_KEEP_CADDY: 'true' }).keepCaddy).toBe(true);
    expect(loadAgentOptions({ ...base, keepCaddy: 'false' }, { CADDYFLEET_KEEP_CADDY: 'true' }).keepCaddy).toBe(false);
    expect(loadAgentOptions({ ...base, keepCaddy: 'yes' }, {}).keepCaddy).toBe(true);
    expect(problems({ ...base, keepCaddy: 'maybe' })).toMatch(/CADDYFLEET_KEEP_CADDY \(--keep-caddy\): must be true or false/);
  });

  it('refuses controller URLs with credentials or a query', () => {
    expect(problems({ ...base, controller: 'https://u:p@fleet.example.com' })).toMatch(/credentials/);
    expect(problems({ ...base, controller: 'https://fleet.example.com/?a=1' })).toMatch(/query/);
    expect(problems({ ...base, controller: 'fleet.example.com' })).toMatch(/absolute URL/);
  });

  it('gives every option a distinct CADDYFLEET_* variable and a description', () => {
    const envs = Object.values(AGENT_OPTIONS).map((o) => o.env);
    expect(new Set(envs).size).toBe(envs.length);
    for (const o of Object.values(AGENT_OPTIONS)) {
      expect(o.env).toMatch(/^CADDYFLEET_[A-Z_]+$/);
      expect(o.describe.length).toBeGreaterThan(10);
    }
    // The CLI's API commands use CADDYFLEET_TOKEN / CADDYFLEET_URL; the agent must not read them.
    expect(envs).not.toContain('CADDYFLEET_TOKEN');
    expect(envs).not.toContain('CADDYFLEET_URL');
  });

  it('reads the enrollment token from a file or from standard input, keeping it off the command line', async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'cf-token-'));
    try {
      const file = join(dir, 'token');
      writeFileSync(file, 'cfe_from_a_file_0123456789\n', { mode: 0o600 });
      expect(loadAgentOptions({ ...base, tokenFile: file }, {}).token).toBe('cfe_from_a_file_0123456789');
      expect(loadAgentOptions(base, { CADDYFLEET_ENROLLMENT_TOKEN_FILE: file }).token).toBe('cfe_from_a_file_0123456789');
      expect(loadAgentOptions({ ...base, token: '-' }, {}, () => '  cfe_from_stdin_0123456789\n').token).toBe('cfe_from_stdin_0123456789');
      expect(problems({ ...base, tokenFile: join(dir, 'missing') })).toMatch(/--token-file\): cannot read .*missing: ENOENT/);
      expect(problems({ ...base, token: 'cfe_0123456789abcdef', tokenFile: file })).toMatch(/--token or --token-file, not both/);
      writeFileSync(file, '\n');
      expect(problems({ ...base, tokenFile: file })).toMatch(/is empty/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
