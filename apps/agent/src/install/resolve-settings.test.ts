import { describe, expect, it } from 'vitest';
import { AgentConfigError } from '../errors';
import { ConfigEnvError } from './config-env';
import { resolveSettings } from './install';

describe('resolveSettings (install options, before anything changes)', () => {
  it('takes the request first, then the earlier install, then the defaults', () => {
    const previous = { controller: 'http://old.example:8080', caddyBin: '/usr/local/bin/caddy-l4', name: 'edge-1', httpListen: ':8080', httpsListen: ':8443' };
    const s = resolveSettings({ controller: 'https://fleet.example.com/', httpsListen: ':9443' }, previous);
    expect(s).toMatchObject({ controller: 'https://fleet.example.com', caddyBin: '/usr/local/bin/caddy-l4', name: 'edge-1', httpListen: ':8080', httpsListen: ':9443' });
    expect(resolveSettings({ caddyBin: '/opt/caddy/bin/../caddy' }, previous).caddyBin).toBe('/opt/caddy/caddy');
    expect(s.configEnv).toContain('CADDYFLEET_CONTROLLER="https://fleet.example.com"');
    const fresh = resolveSettings({ controller: 'https://fleet.example.com' }, {});
    expect(fresh).toMatchObject({ caddyBin: '/usr/bin/caddy', httpListen: ':80', httpsListen: ':443' });
    expect(fresh.name.length).toBeGreaterThan(0);
  });

  it('refuses a missing controller and bad values with the agent\'s own messages', () => {
    expect(() => resolveSettings({}, {})).toThrow(/--controller URL is required/);
    expect(() => resolveSettings({ controller: 'ftp://x' }, {})).toThrow(AgentConfigError);
    expect(() => resolveSettings({ controller: 'https://x', httpListen: ':443' }, {})).toThrow(/different port/);
    expect(() => resolveSettings({ controller: 'https://x', name: 'a$b' }, {})).toThrow(ConfigEnvError);
  });
});
