/**
 * Docker discovery on one host, end to end: a private dockerd, a real controller, real agent processes with
 * their own Caddy. Containers are labelled the caddy-docker-proxy way and must be served (or reported) within a
 * bounded wait, and every change to them must be reflected both in the agent's Caddy and on the controller.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateDockerd, requireDocker } from './helpers/dockerd';
import { dockerRoutes, proxyLabels, servedOnlyBy, waitAgentDockerRoute, waitDockerRoute, waitNoDockerRoute } from './helpers/docker-fleet';
import { DEAD_TEXT, FleetAgent, FleetController, isUnknownHost, requireCaddy, waitFor } from './helpers/fleet';

const ready = requireCaddy() && requireDocker();

describe.skipIf(!ready)('Docker discovery on one host', () => {
  let d: PrivateDockerd;
  let ctl: FleetController;
  let agent: FleetAgent;
  let other: FleetAgent;

  beforeAll(async () => {
    d = await PrivateDockerd.start();
    await d.createNetwork('cfnet1', 1);
    ctl = await FleetController.start();
    agent = await FleetAgent.enroll(ctl, { ip: '127.0.0.21', name: 'docker-a', env: { CADDYFLEET_DOCKER_HOST: d.host } });
    // Same daemon, custom prefix, configured with the seed plan's variable names.
    other = await FleetAgent.enroll(ctl, { ip: '127.0.0.22', name: 'docker-b', env: { DOCKER_HOST: d.host, DOCKER_LABEL_PREFIX: 'cf' } });
  });
  afterAll(async () => {
    await other?.dispose();
    await agent?.dispose();
    await ctl?.dispose();
    await d?.dispose();
  });

  it('serves a labelled container through its Caddy and shows it on the controller, read-only', async () => {
    const c = await d.run({ name: 'web1', labels: proxyLabels('web.test') });
    await agent.waitServes('web.test', (r) => r.status === 200 && r.body.trim() === 'web1', 'web.test from web1');
    const route = await waitDockerRoute(ctl, (r) => r.domains.includes('web.test'), 'web.test on the controller');
    expect(route).toMatchObject({
      kind: 'proxy',
      origin: 'docker',
      scope: 'local_only',
      nodeId: agent.nodeId,
      tls: 'off',
      upstreams: [{ host: c.ips['cfnet0'], port: 80 }],
      source: { nodeId: agent.nodeId, nodeName: 'docker-a', containerId: c.id, containerName: 'web1', state: 'running', stale: false },
      lastError: null,
    });
    expect((await ctl.api('PATCH', `/routes/${route.id}`, { enabled: false })).status).toBe(403);
    expect((await ctl.api('DELETE', `/routes/${route.id}`)).status).toBe(403);
    expect((await ctl.ok('GET', '/routes?origin=central')).some((r: { id: string }) => r.id === route.id)).toBe(false);
    // The other agent reads only cf-prefixed labels.
    expect(isUnknownHost((await other.get('web.test')))).toBe(true);
  });

  it('follows stop, start, a crash and remove', async () => {
    await d.stopContainer('web1');
    await agent.waitServes('web.test', isUnknownHost, 'web.test gone after stop');
    await waitNoDockerRoute(ctl, 'web.test');
    await d.startContainer('web1');
    await agent.waitServes('web.test', (r) => r.status === 200 && r.body.trim() === 'web1', 'web.test back after start');
    await waitDockerRoute(ctl, (r) => r.domains.includes('web.test'), 'web.test back on the controller');
    // A crash: the process dies on its own, Docker says only `die`.
    process.kill((await d.docker.getContainer('web1').inspect()).State.Pid, 'SIGKILL');
    await agent.waitServes('web.test', isUnknownHost, 'web.test gone after its process died');
    await waitNoDockerRoute(ctl, 'web.test');
    await d.startContainer('web1');
    await agent.waitServes('web.test', (r) => r.status === 200 && r.body.trim() === 'web1', 'web.test back after the crash');
    await d.removeContainer('web1');
    await agent.waitServes('web.test', isUnknownHost, 'web.test gone after remove');
    await waitNoDockerRoute(ctl, 'web.test');
  });

  it('makes one route with two upstreams of two containers sharing a domain; killing one keeps it served', async () => {
    const a = await d.run({ name: 'both-a', labels: proxyLabels('both.test') });
    const b = await d.run({ name: 'both-b', labels: proxyLabels('both.test') });
    const route = await waitDockerRoute(ctl, (r) => r.domains.includes('both.test') && r.upstreams.length === 2, 'both.test with two upstreams');
    expect(route.upstreams).toEqual(expect.arrayContaining([{ host: a.ips['cfnet0'], port: 80 }, { host: b.ips['cfnet0'], port: 80 }]));
    expect(route.sources!.map((s) => s.containerName).sort()).toEqual(['both-a', 'both-b']);
    expect((await dockerRoutes(ctl)).filter((r) => r.domains.includes('both.test'))).toHaveLength(1);
    // Load-balanced: both containers answer sooner or later.
    const seen = new Set<string>();
    await waitFor(async () => {
      seen.add((await agent.get('both.test')).body.trim());
      return seen.size === 2;
    }, { timeoutMs: 10_000, intervalMs: 20, description: 'both containers answering both.test' });

    await d.stopContainer('both-a');
    await waitAgentDockerRoute(agent, 'both.test', (r) => r.served && r.upstreams.length === 1, 'both.test down to one upstream');
    await servedOnlyBy(agent, 'both.test', 'both-b');
    const after = await waitDockerRoute(ctl, (r) => r.domains.includes('both.test') && r.upstreams.length === 1, 'both.test with one upstream');
    expect(after.id).toBe(route.id);
    await d.stopContainer('both-b');
    await agent.waitServes('both.test', isUnknownHost, 'both.test gone with its last container');
    await waitNoDockerRoute(ctl, 'both.test');
  });

  it('serves the numbered sites of one container, redirects included', async () => {
    await d.run({
      name: 'multi',
      labels: {
        caddy_0: 'http://n0.test',
        'caddy_0.reverse_proxy': '{{upstreams 80}}',
        caddy_1: 'http://n1.test http://n1b.test',
        'caddy_1.reverse_proxy': '{{upstreams http 80}}',
        caddy_2: 'http://old.test',
        'caddy_2.redir': 'http://n0.test{uri} permanent',
      },
    });
    await agent.waitServes('n0.test', (r) => r.status === 200 && r.body.trim() === 'multi', 'n0.test');
    await agent.waitServes('n1b.test', (r) => r.status === 200 && r.body.trim() === 'multi', 'n1b.test');
    const redirect = await agent.waitServes('old.test', (r) => r.status === 301, 'old.test redirect', 15_000, '/some/path');
    expect(redirect.headers.location).toBe('http://n0.test/some/path');
    const routes = await dockerRoutes(ctl);
    expect(routes.filter((r) => r.source?.containerName === 'multi').map((r) => r.domains.join(' ')).sort()).toEqual(['n0.test', 'n1.test n1b.test', 'old.test']);
  });

  it('reads a custom prefix on an agent configured with DOCKER_HOST and DOCKER_LABEL_PREFIX', async () => {
    await d.run({ name: 'custom', labels: proxyLabels('custom.test', 80, {}, 'cf') });
    await other.waitServes('custom.test', (r) => r.status === 200 && r.body.trim() === 'custom', 'custom.test on the cf agent');
    const route = await waitDockerRoute(ctl, (r) => r.domains.includes('custom.test'), 'custom.test on the controller');
    expect(route.nodeId).toBe(other.nodeId);
    expect(isUnknownHost(await agent.get('custom.test'))).toBe(true);
  });

  it('uses caddy_ingress_network to pick the network of a container on two', async () => {
    const c = await d.run({ name: 'ingress', networks: ['cfnet0', 'cfnet1'], labels: proxyLabels('ingress.test', 80, { caddy_ingress_network: 'cfnet1' }) });
    await agent.waitServes('ingress.test', (r) => r.status === 200 && r.body.trim() === 'ingress', 'ingress.test');
    const route = await waitDockerRoute(ctl, (r) => r.domains.includes('ingress.test'), 'ingress.test on the controller');
    expect(route.upstreams).toEqual([{ host: c.ips['cfnet1'], port: 80 }]);
    expect(c.ips['cfnet1']!.startsWith(d.subnet.prefix)).toBe(true);

    await d.run({ name: 'twonets', networks: ['cfnet0', 'cfnet1'], labels: proxyLabels('twonets.test') });
    const reported = await waitDockerRoute(ctl, (r) => r.domains.includes('twonets.test'), 'twonets.test reported');
    expect(reported.lastError).toMatch(/several networks \(cfnet0, cfnet1\): set caddy_ingress_network/);
    expect(isUnknownHost(await agent.get('twonets.test'))).toBe(true);
  });

  it('reports invalid labels and unsupported directives without affecting anything else', async () => {
    await d.run({ name: 'good', labels: proxyLabels('good.test', 80, { 'caddy.encode': 'gzip' }) });
    await d.run({ name: 'inject', labels: proxyLabels('inject.test', 80, { 'caddy.reverse_proxy': '{{upstreams 80}} {env.HOME}' }) });
    await d.run({ name: 'placeholder', labels: { caddy: 'http://x.test{http.request.host}', 'caddy.reverse_proxy': '{{upstreams 80}}' } });
    await d.run({ name: 'baddomain', labels: { caddy: 'http://bad_domain!', 'caddy.reverse_proxy': '{{upstreams 80}}' } });
    await d.run({ name: 'unpublished', labels: proxyLabels('unpub.test', 80, { 'caddyfleet.node': 'docker-b' }) });

    await agent.waitServes('good.test', (r) => r.status === 200 && r.body.trim() === 'good', 'good.test despite its unsupported directive');
    const good = await waitDockerRoute(ctl, (r) => r.domains.includes('good.test'), 'good.test');
    expect(good.lastError).toMatch(/container good on docker-a: ignored unsupported labels: caddy\.encode/);

    const byContainer = async (name: string) => waitDockerRoute(ctl, (r) => r.source?.containerName === name && r.lastError !== null, `${name} reported`);
    expect((await byContainer('inject')).lastError).toMatch(/caddy\.reverse_proxy="\{\{upstreams 80\}\} \{env\.HOME\}": only \{\{upstreams/);
    expect((await byContainer('placeholder')).lastError).toMatch(/must not contain placeholders/);
    expect((await byContainer('baddomain')).lastError).toMatch(/not a valid RFC 1123 label/);
    const unpub = await byContainer('unpublished');
    expect(unpub.lastError).toMatch(/container port 80 is not published; serving it on node "docker-b" needs -p HOST_PORT:80/);
    // Shown on the node it was meant for, as found by this one.
    expect(unpub.nodeId).toBe(other.nodeId);
    expect(unpub.source!.nodeId).toBe(agent.nodeId);
    // None of them reached a Caddy; everything else still works.
    expect(isUnknownHost(await agent.get('inject.test'))).toBe(true);
    expect(isUnknownHost(await other.get('unpub.test'))).toBe(true);
    const config = JSON.stringify(await (await import('node:fs/promises')).readFile(`${agent.stateDir}/applied.json`, 'utf8'));
    expect(config).not.toMatch(/env\.HOME|http\.request\.host|bad_domain/);
    await servedOnlyBy(agent, 'n0.test', 'multi');
    await servedOnlyBy(other, 'custom.test', 'custom');
    const status = await agent.status();
    expect(status.docker!.entries.find((e) => e.containerName === 'baddomain')!.error).toMatch(/RFC 1123/);
  });

  it('lets a central route win a domain over a container, both sides saying so, and hands it back', async () => {
    await d.run({ name: 'contested', labels: proxyLabels('contested.test') });
    await agent.waitServes('contested.test', (r) => r.status === 200, 'contested.test from its container');
    const central = await ctl.createRoute({ kind: 'dead', nodeId: agent.nodeId, domains: ['contested.test'] });
    await agent.waitServes('contested.test', (r) => r.status === 404 && r.body.includes(DEAD_TEXT), 'the central dead route wins');
    const docker = await waitDockerRoute(ctl, (r) => r.domains.includes('contested.test') && r.lastError !== null, 'conflict on the controller');
    expect(docker.lastError).toMatch(new RegExp(`domain contested.test is served by central route ${central.id}; central and local routes win`));
    const onAgent = await waitAgentDockerRoute(agent, 'contested.test', (r) => !r.served, 'conflict on the agent');
    expect(onAgent.problems[0]).toMatch(new RegExp(`central route ${central.id}`));

    await ctl.deleteRoute(central.id);
    await agent.waitServes('contested.test', (r) => r.status === 200 && r.body.trim() === 'contested', 'the container again');
    await waitDockerRoute(ctl, (r) => r.domains.includes('contested.test') && r.lastError === null, 'conflict gone on the controller');
  });
});
