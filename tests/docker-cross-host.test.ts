/**
 * Cross-host Docker discovery (`caddyfleet.node`): containers on hosts B and C, each with its own private dockerd
 * and agent on its own loopback address, served by node A's Caddy through the ports their hosts publish.
 * B takes its host IP from HOST_IP; C has none and falls back to the local address of its controller connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateDockerd, requireDocker } from './helpers/dockerd';
import { proxyLabels, servedOnlyBy, waitDockerRoute, waitNoDockerRoute } from './helpers/docker-fleet';
import { FleetAgent, FleetController, isUnknownHost, requireCaddy, waitFor } from './helpers/fleet';

const ready = requireCaddy() && requireDocker();

describe.skipIf(!ready)('Docker discovery across hosts', () => {
  let dB: PrivateDockerd;
  let dC: PrivateDockerd;
  let ctl: FleetController;
  let a: FleetAgent;
  let b: FleetAgent;
  let c: FleetAgent;
  const B_IP = '127.0.0.32';

  beforeAll(async () => {
    [dB, dC] = await Promise.all([PrivateDockerd.start(), PrivateDockerd.start()]);
    ctl = await FleetController.start();
    a = await FleetAgent.enroll(ctl, { ip: '127.0.0.31', name: 'main-a', env: { CADDYFLEET_NO_DOCKER: 'true' } });
    b = await FleetAgent.enroll(ctl, { ip: B_IP, name: 'docker-b', env: { CADDYFLEET_DOCKER_HOST: dB.host, HOST_IP: B_IP } });
    c = await FleetAgent.enroll(ctl, { ip: '127.0.0.33', name: 'docker-c', env: { CADDYFLEET_DOCKER_HOST: dC.host } });
  });
  afterAll(async () => {
    for (const agent of [c, b, a]) await agent?.dispose();
    await ctl?.dispose();
    await Promise.all([dB?.dispose(), dC?.dispose()]);
  });

  it("serves a container on B labelled caddyfleet.node=A with A's Caddy, through B's IP and published port", async () => {
    const x = await dB.run({ name: 'xhost', labels: proxyLabels('x.test', 80, { 'caddyfleet.node': 'main-a' }), publish: [{ ip: B_IP, containerPort: 80 }] });
    await a.waitServes('x.test', (r) => r.status === 200 && r.body.trim() === 'xhost', 'x.test on A');
    const route = await waitDockerRoute(ctl, (r) => r.domains.includes('x.test'), 'x.test on the controller');
    expect(route).toMatchObject({
      nodeId: a.nodeId,
      origin: 'docker',
      upstreams: [{ host: B_IP, port: x.published[80] }],
      source: { nodeId: b.nodeId, nodeName: 'docker-b', containerName: 'xhost', stale: false },
      lastError: null,
    });
    expect(isUnknownHost(await b.get('x.test'))).toBe(true);
  });

  it('names the node by id too, and falls back to the address of the controller connection for the host IP', async () => {
    // C has no host IP set; it talks to the controller from 127.0.0.1, so that is where it publishes.
    const y = await dC.run({ name: 'yhost', labels: proxyLabels('y.test', 80, { 'caddyfleet.node': a.nodeId }), publish: [{ ip: '127.0.0.1', containerPort: 80 }] });
    await a.waitServes('y.test', (r) => r.status === 200 && r.body.trim() === 'yhost', 'y.test on A');
    const route = await waitDockerRoute(ctl, (r) => r.domains.includes('y.test'), 'y.test on the controller');
    expect(route.upstreams).toEqual([{ host: '127.0.0.1', port: y.published[80] }]);
  });

  it('makes one route on A from containers on two hosts sharing a domain; stopping one keeps it served', async () => {
    const fromB = await dB.run({ name: 'shared-b', labels: proxyLabels('shared.test', 80, { 'caddyfleet.node': 'main-a' }), publish: [{ ip: B_IP, containerPort: 80 }] });
    const fromC = await dC.run({ name: 'shared-c', labels: proxyLabels('shared.test', 80, { 'caddyfleet.node': 'main-a' }), publish: [{ ip: '127.0.0.1', containerPort: 80 }] });
    const route = await waitDockerRoute(ctl, (r) => r.domains.includes('shared.test') && r.upstreams.length === 2, 'shared.test with two upstreams');
    expect(route.nodeId).toBe(a.nodeId);
    expect(route.upstreams).toEqual(expect.arrayContaining([{ host: B_IP, port: fromB.published[80] }, { host: '127.0.0.1', port: fromC.published[80] }]));
    expect(route.sources!.map((s) => s.nodeName).sort()).toEqual(['docker-b', 'docker-c']);
    const seen = new Set<string>();
    await waitFor(async () => {
      seen.add((await a.get('shared.test')).body.trim());
      return seen.size === 2;
    }, { timeoutMs: 10_000, intervalMs: 20, description: 'both hosts answering shared.test through A' });

    await dC.stopContainer('shared-c');
    await waitDockerRoute(ctl, (r) => r.domains.includes('shared.test') && r.upstreams.length === 1, 'shared.test down to B');
    await waitFor(async () => {
      try {
        await servedOnlyBy(a, 'shared.test', 'shared-b');
        return true;
      } catch {
        return false;
      }
    }, { timeoutMs: 10_000, description: 'A serving shared.test from B only' });
  });

  it('says so when the port is not published, or published only on another address', async () => {
    await dB.run({ name: 'local-only', labels: proxyLabels('lo.test', 80, { 'caddyfleet.node': 'main-a' }), publish: [{ ip: '127.0.0.1', containerPort: 80 }] });
    await dB.run({ name: 'nopublish', labels: proxyLabels('np.test', 80, { 'caddyfleet.node': 'main-a' }) });
    await dB.run({ name: 'nowhere', labels: proxyLabels('nw.test', 80, { 'caddyfleet.node': 'no-such-node' }), publish: [{ ip: B_IP, containerPort: 80 }] });
    const lo = await waitDockerRoute(ctl, (r) => r.source?.containerName === 'local-only', 'lo.test reported');
    expect(lo.lastError).toMatch(/container port 80 is published only on 127\.0\.0\.1, not on this host's IP 127\.0\.0\.32/);
    expect(lo.nodeId).toBe(a.nodeId);
    const np = await waitDockerRoute(ctl, (r) => r.source?.containerName === 'nopublish', 'np.test reported');
    expect(np.lastError).toMatch(/container port 80 is not published/);
    const nw = await waitDockerRoute(ctl, (r) => r.source?.containerName === 'nowhere', 'nw.test reported');
    expect(nw.lastError).toMatch(/caddyfleet\.node=no-such-node: no node of this organization has that name or id/);
    expect(nw.nodeId).toBe(b.nodeId);
    for (const host of ['lo.test', 'np.test', 'nw.test']) {
      expect(isUnknownHost(await a.get(host))).toBe(true);
      expect(isUnknownHost(await b.get(host))).toBe(true);
    }
    await servedOnlyBy(a, 'x.test', 'xhost');
  });

  it("never hands a site to a node of another organization", async () => {
    const tenant = await ctl.ok('POST', '/tenants', { name: 'other-tenant' });
    const org = await ctl.ok('POST', '/organizations', { name: 'other-org', tenantId: tenant.id });
    const site = await ctl.ok('POST', '/sites', { name: 'other-site', organizationId: org.id });
    const { token } = await ctl.ok('POST', `/sites/${site.id}/enrollment-tokens`, {});
    const res = await fetch(`${ctl.url}/api/v1/agent/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, name: 'foreign', hostname: 'foreign.test' }),
    });
    const foreign = (await res.json()) as { nodeId: string };
    expect(res.status).toBe(201);
    await dB.run({ name: 'to-foreign', labels: proxyLabels('foreign.test', 80, { 'caddyfleet.node': foreign.nodeId }), publish: [{ ip: B_IP, containerPort: 80 }] });
    const reported = await waitDockerRoute(ctl, (r) => r.source?.containerName === 'to-foreign', 'foreign.test reported');
    expect(reported.lastError).toMatch(/no node of this organization has that name or id/);
    expect(reported.nodeId).toBe(b.nodeId);
    expect((await ctl.ok('GET', `/routes?nodeId=${foreign.nodeId}`)).length).toBe(0);
  });

  it('keeps serving while B is away, marked stale, and drops what B removed meanwhile when it is back', async () => {
    await b.stop();
    const stale = await waitDockerRoute(ctl, (r) => r.domains.includes('x.test') && r.source?.stale === true, 'x.test marked stale', 20_000);
    expect(stale.lastError).toMatch(/stale: node docker-b is offline/);
    await servedOnlyBy(a, 'x.test', 'xhost');
    // C's routes are not stale.
    const fromC = await waitDockerRoute(ctl, (r) => r.domains.includes('y.test'), 'y.test');
    expect(fromC.source?.stale).toBe(false);

    await dB.removeContainer('xhost');
    await b.start();
    await a.waitServes('x.test', isUnknownHost, 'x.test gone once B reconciled');
    await waitNoDockerRoute(ctl, 'x.test');
    const back = await waitDockerRoute(ctl, (r) => r.domains.includes('shared.test') && r.source?.stale === false, 'shared.test fresh again');
    expect(back.lastError).toBeNull();
    await servedOnlyBy(a, 'shared.test', 'shared-b');
  });
});
