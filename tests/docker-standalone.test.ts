/**
 * Docker discovery in `caddyfleet standalone` (the controller's own local node), end to end with a private
 * dockerd: pickup, the daemon restarted under the node, and containers that changed while the node was stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateDockerd, requireDocker } from './helpers/dockerd';
import { dockerRoutes, proxyLabels, waitDockerRoute, waitNoDockerRoute } from './helpers/docker-fleet';
import { isUnknownHost, requireCaddy, waitFor } from './helpers/fleet';
import { Standalone } from './helpers/standalone';
import { LocalApiClient } from '../apps/agent/src/index';

/** The local node's own status, from its agent socket in the data dir. */
const localStatus = (s: Standalone) => LocalApiClient.forStateDir(`${s.dir.path}/data/local-agent`, 3000).status();

const ready = requireCaddy() && requireDocker();

describe.skipIf(!ready)('Docker discovery in standalone mode', () => {
  let d: PrivateDockerd;
  let s: Standalone;

  beforeAll(async () => {
    d = await PrivateDockerd.start({ liveRestore: true });
    s = await Standalone.start({ ip: '127.0.0.41', args: ['--docker-host', d.host] });
  });
  afterAll(async () => {
    await s?.dispose();
    await d?.dispose();
  });

  it('picks up a labelled container and serves it on the local node', async () => {
    const c = await d.run({ name: 'solo', labels: proxyLabels('solo.test') });
    await s.waitServes('solo.test', (r) => r.status === 200 && r.body.trim() === 'solo', 'solo.test from its container');
    const route = await waitDockerRoute(s, (r) => r.domains.includes('solo.test'), 'solo.test on the controller');
    expect(route).toMatchObject({ nodeId: null, origin: 'docker', upstreams: [{ host: c.ips['cfnet0'], port: 80 }], source: { nodeId: null, nodeName: 'local', containerName: 'solo' } });
  });

  it('keeps serving while dockerd is away, and reconciles with what changed meanwhile when it is back', async () => {
    await d.run({ name: 'survivor', labels: proxyLabels('survivor.test') });
    await d.run({ name: 'casualty', labels: proxyLabels('casualty.test') });
    await s.waitServes('survivor.test', (r) => r.status === 200, 'survivor.test');
    await s.waitServes('casualty.test', (r) => r.status === 200, 'casualty.test');
    const casualtyPid = (await d.docker.getContainer('casualty').inspect()).State.Pid;

    // --live-restore: the containers outlive the daemon; the node keeps what it published and keeps serving.
    await d.stopDaemon();
    await waitFor(async () => (await localStatus(s)).docker?.connected === false, { timeoutMs: 10_000, description: 'the node noticing the daemon is gone' });
    expect((await dockerRoutes(s)).map((r) => r.domains[0]).sort()).toEqual(['casualty.test', 'solo.test', 'survivor.test']);
    expect((await s.get('survivor.test')).body.trim()).toBe('survivor');

    // A container dies while nobody is watching; only a new list after the restart can tell.
    process.kill(casualtyPid, 'SIGKILL');
    await d.startDaemon();
    await s.waitServes('casualty.test', isUnknownHost, 'casualty.test gone after the daemon came back', 30_000);
    await waitNoDockerRoute(s, 'casualty.test');
    expect((await s.get('survivor.test')).body.trim()).toBe('survivor');
    expect((await localStatus(s)).docker?.connected).toBe(true);
    // Events flow again from the new daemon.
    await d.run({ name: 'newcomer', labels: proxyLabels('newcomer.test') });
    await s.waitServes('newcomer.test', (r) => r.status === 200 && r.body.trim() === 'newcomer', 'newcomer.test after the restart');
  });

  it('drops a container removed while the node was stopped, and serves one started meanwhile', async () => {
    await s.stop();
    await d.removeContainer('survivor');
    await d.run({ name: 'late', labels: proxyLabels('late.test') });
    await s.start();
    await s.waitServes('survivor.test', isUnknownHost, 'survivor.test gone after the node started');
    await waitNoDockerRoute(s, 'survivor.test');
    await s.waitServes('late.test', (r) => r.status === 200 && r.body.trim() === 'late', 'late.test started while the node was stopped');
    await waitDockerRoute(s, (r) => r.domains.includes('late.test'), 'late.test on the controller');
  });
});
