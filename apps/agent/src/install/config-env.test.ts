import { describe, expect, it } from 'vitest';
import { loadAgentOptions } from '../options';
import { ConfigEnvError, parseConfigEnv, previousSettings, renderConfigEnv } from './config-env';

const settings = { controller: 'https://fleet.example.com', caddyBin: '/usr/bin/caddy', name: 'edge-1', httpListen: ':80', httpsListen: '10.200.9.5:443' };

describe('renderConfigEnv', () => {
  it('writes every setting the agent needs, and no token', () => {
    const text = renderConfigEnv(settings);
    expect(parseConfigEnv(text)).toEqual({
      CADDYFLEET_CONTROLLER: 'https://fleet.example.com',
      CADDYFLEET_STATE_DIR: '/var/lib/caddyfleet-agent',
      CADDYFLEET_CADDY_BIN: '/usr/bin/caddy',
      CADDYFLEET_NODE_NAME: 'edge-1',
      CADDYFLEET_HTTP_LISTEN: ':80',
      CADDYFLEET_HTTPS_LISTEN: '10.200.9.5:443',
      CADDYFLEET_KEEP_CADDY: 'true',
    });
    expect(text).not.toMatch(/TOKEN/);
  });

  it('is what the agent itself loads (the file is its environment under systemd)', () => {
    const opts = loadAgentOptions({}, parseConfigEnv(renderConfigEnv({ ...settings, name: 'Edge node 1 (rack 4)' })));
    expect(opts).toMatchObject({
      controller: 'https://fleet.example.com',
      stateDir: '/var/lib/caddyfleet-agent',
      caddyBin: '/usr/bin/caddy',
      name: 'Edge node 1 (rack 4)',
      httpsListen: '10.200.9.5:443',
      keepCaddy: true,
    });
  });

  it('refuses values a shell or systemd would read differently', () => {
    for (const name of ['a"b', 'a\\b', 'a$HOME', 'a`id`', 'a\nb']) {
      expect(() => renderConfigEnv({ ...settings, name })).toThrow(ConfigEnvError);
    }
  });
});

describe('previousSettings', () => {
  it('recovers what an earlier install wrote, so a re-run keeps it', () => {
    expect(previousSettings(renderConfigEnv(settings))).toEqual({ ...settings, caddyBin: '/usr/bin/caddy' });
  });

  it('keeps an identity issued by the controller (SSH provisioning), which the agent then runs with', () => {
    const identity = { nodeId: 'node_0123456789abcdef', agentKey: `cfa_${'k'.repeat(43)}` };
    const text = renderConfigEnv({ ...settings, caddyBin: '/usr/local/bin/caddy', identity });
    expect(text).toContain(`CADDYFLEET_AGENT_KEY="${identity.agentKey}"`);
    expect(previousSettings(text)).toEqual({ ...settings, caddyBin: '/usr/local/bin/caddy', identity });
    expect(loadAgentOptions({}, parseConfigEnv(text))).toMatchObject({ nodeId: identity.nodeId, agentKey: identity.agentKey, caddyBin: '/usr/local/bin/caddy' });
  });

  it('is empty without a file and ignores unknown or empty lines', () => {
    expect(previousSettings(null)).toEqual({});
    expect(previousSettings('# hand edited\nCADDYFLEET_NODE_NAME=\nFOO=bar\nCADDYFLEET_HTTP_LISTEN=:8080\n')).toEqual({ httpListen: ':8080' });
  });
});
