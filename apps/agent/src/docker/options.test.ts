import { describe, expect, it } from 'vitest';
import { dockerHostOf, loadAgentOptions } from '../options';
import { dockerConnection } from './discovery';
import { BASE_FLAGS as base, refusalOf as refusal } from '../../test-support/options';

describe('Docker discovery options', () => {
  it('defaults to the caddy prefix and the default socket when it exists', () => {
    const o = loadAgentOptions(base, {});
    expect(o).toMatchObject({ dockerLabelPrefix: 'caddy', noDocker: false, dockerHost: undefined });
    expect(dockerHostOf(o, () => true)).toBe('unix:///var/run/docker.sock');
    expect(dockerHostOf(o, () => false)).toBeNull();
    expect(dockerHostOf({ ...o, noDocker: true }, () => true)).toBeNull();
    expect(dockerHostOf({ ...o, dockerHost: 'tcp://127.0.0.1:2375' }, () => false)).toBe('tcp://127.0.0.1:2375');
  });

  it('reads the seed plan variable names, and a CADDYFLEET_* variable wins over them', () => {
    const seed = {
      AGENT_MODE: 'agent',
      AGENT_ID: 'edge-7',
      CADDY_SERVER_URL: 'https://fleet.example.com',
      CADDY_API_TOKEN: 'cfe_0123456789abcdef',
      HOST_IP: '10.200.9.10',
      DOCKER_LABEL_PREFIX: 'proxy',
      DOCKER_HOST: 'unix:///run/user/docker.sock',
    };
    expect(loadAgentOptions(base, seed)).toMatchObject({
      name: 'edge-7',
      controller: 'https://fleet.example.com',
      token: 'cfe_0123456789abcdef',
      hostIp: '10.200.9.10',
      dockerLabelPrefix: 'proxy',
      dockerHost: 'unix:///run/user/docker.sock',
    });
    const both = { ...seed, CADDYFLEET_NODE_NAME: 'edge-8', CADDYFLEET_DOCKER_HOST: 'unix:///var/run/docker.sock', CADDYFLEET_DOCKER_LABEL_PREFIX: 'caddy' };
    expect(loadAgentOptions(base, both)).toMatchObject({ name: 'edge-8', dockerHost: 'unix:///var/run/docker.sock', dockerLabelPrefix: 'caddy' });
    expect(loadAgentOptions({ ...base, dockerLabelPrefix: 'flag' }, both).dockerLabelPrefix).toBe('flag');
  });

  it('takes --no-docker from its variable', () => {
    expect(loadAgentOptions(base, { CADDYFLEET_NO_DOCKER: 'true' }).noDocker).toBe(true);
    expect(loadAgentOptions({ ...base, noDocker: 'true' }, {}).noDocker).toBe(true);
    expect(refusal(base, { CADDYFLEET_NO_DOCKER: 'maybe' })).toMatch(/CADDYFLEET_NO_DOCKER \(--no-docker\): must be true or false/);
  });

  it('refuses a bad Docker host, prefix and AGENT_MODE, each named', () => {
    const msg = refusal({ ...base, dockerHost: 'https://docker.example.com:2376', dockerLabelPrefix: 'caddy.x' }, { AGENT_MODE: 'server' });
    expect(msg).toMatch(/CADDYFLEET_DOCKER_HOST \(--docker-host\): .*TLS, SSH and named pipes are not supported/);
    expect(msg).toMatch(/CADDYFLEET_DOCKER_LABEL_PREFIX \(--docker-label-prefix\): must be letters/);
    expect(msg).toMatch(/AGENT_MODE: asks for another role/);
    expect(refusal({ ...base, dockerHost: 'unix://relative.sock' })).toMatch(/--docker-host/);
    expect(refusal({ ...base, dockerHost: 'tcp://127.0.0.1:2375/path' })).toMatch(/--docker-host/);
  });

  it('turns Docker hosts into dockerode connections', () => {
    expect(dockerConnection('unix:///tmp/d/docker.sock')).toEqual({ socketPath: '/tmp/d/docker.sock' });
    expect(dockerConnection('/tmp/d/docker.sock')).toEqual({ socketPath: '/tmp/d/docker.sock' });
    expect(dockerConnection('tcp://127.0.0.1:2375')).toEqual({ host: '127.0.0.1', port: 2375, protocol: 'http' });
    expect(dockerConnection('tcp://[::1]')).toEqual({ host: '::1', port: 2375, protocol: 'http' });
  });
});
