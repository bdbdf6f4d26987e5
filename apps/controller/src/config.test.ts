import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_AGENT_ARTIFACT, loadConfig } from './config';

describe('loadConfig: --public-url and --agent-artifact', () => {
  it('defaults to no public URL and the artifact in dist/', () => {
    const c = loadConfig('server', {}, {});
    expect(c.publicUrl).toBeUndefined();
    expect(c.agentArtifact).toBe(DEFAULT_AGENT_ARTIFACT);
    expect(DEFAULT_AGENT_ARTIFACT.endsWith('/dist/caddyfleet-agent-linux-x64')).toBe(true);
  });

  it('takes both from flags or env, without a trailing slash', () => {
    const c = loadConfig('server', { publicUrl: 'https://fleet.example.com/' }, { CADDYFLEET_AGENT_ARTIFACT: 'build/agent' });
    expect(c.publicUrl).toBe('https://fleet.example.com');
    expect(c.agentArtifact).toMatch(/^\/.*\/build\/agent$/);
    expect(loadConfig('server', {}, { CADDYFLEET_PUBLIC_URL: 'http://10.200.1.1:8080/fleet' }).publicUrl).toBe('http://10.200.1.1:8080/fleet');
  });

  it('refuses URLs that are not absolute http(s) or not safe to paste into a shell', () => {
    for (const bad of ['fleet.example.com', 'ftp://fleet.example.com', 'https://u:p@fleet.example.com', 'https://fleet.example.com/?a=1', 'https://fleet.example.com/a;b', "https://fleet.example.com/'"]) {
      expect(() => loadConfig('server', { publicUrl: bad }, {}), bad).toThrow(ConfigError);
    }
    expect(() => loadConfig('server', { publicUrl: 'nope' }, {})).toThrow(/CADDYFLEET_PUBLIC_URL \(--public-url\): must be an absolute URL/);
  });
});
