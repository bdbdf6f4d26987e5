/**
 * docker: how long a labelled container takes to be served after it starts, and to stop being served after it
 * stops, on its own host (agent L) and across hosts (a container on B labelled caddyfleet.node=A, served by A's
 * Caddy through B's published port). One private dockerd (tests/helpers/dockerd.ts: own socket, test subnet, no
 * iptables); L reads the `local` label prefix and B the `caddy` one, so each sees only its own containers.
 *
 * start→served: from just before `docker start` until the node's Caddy answers the domain with the container's
 * text. stop→gone: from just before `docker stop` (SIGKILL) until the node's Caddy answers the domain with its
 * unknown-host 404. Probes are started every 5 ms without waiting for each other (a request caught by a container
 * that is not listening yet, or no longer there, can hang for a while), and the start time of the first probe
 * that gets the awaited answer is taken. The limits beside them: Docker's own `start` and `die` events reaching a
 * client (the agent cannot know sooner), and for cross-host the published port itself answering (Docker's
 * userland proxy forwards to the container only once it listens).
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { PrivateDockerd } from '../../tests/helpers/dockerd';
import { httpGet } from '../../tests/helpers/http-probe';
import { benchDir, Cleanup, createSite, enrollmentToken, startAgentNode, startBenchController, waitOnline, type AgentNode } from '../lib/fleet';
import { sleep, waitUntil } from '../lib/http';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario';
import { ms, summarize, type Summary } from '../lib/stats';
import { printTable } from '../lib/table';

const UNKNOWN_HOST = 'No site is configured for this host name.';
const PROBE_EVERY_MS = 5;
const LIMIT_MS = 20_000;

interface Cycle {
  served: number;
  startEvent: number;
  /** Cross-host only: the published port answering directly. */
  portReady: number;
  gone: number;
  dieEvent: number;
}

/** Docker events as this process receives them: when each container's start/die arrived. */
class EventClock {
  private readonly seen: { name: string; action: string; at: number }[] = [];
  private stream: NodeJS.ReadableStream & { destroy(): void } | null = null;

  async open(d: PrivateDockerd): Promise<void> {
    this.stream = (await d.docker.getEvents({ filters: { type: ['container'], event: ['start', 'die'] } })) as unknown as NodeJS.ReadableStream & { destroy(): void };
    let buffer = '';
    this.stream.on('data', (chunk: Buffer) => {
      const at = performance.now();
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const e = JSON.parse(line) as { Action: string; Actor: { Attributes: { name: string } } };
          this.seen.push({ name: e.Actor.Attributes.name, action: e.Action, at });
        } catch {
          /* not an event line */
        }
      }
    });
  }

  /** ms from t0 to the first `action` event of `name` after t0 (waits up to 5 s for it). */
  async since(name: string, action: string, t0: number): Promise<number> {
    for (let i = 0; i < 500; i++) {
      const e = this.seen.find((x) => x.name === name && x.action === action && x.at >= t0);
      if (e) return e.at - t0;
      await sleep(10);
    }
    return NaN;
  }

  close(): void {
    this.stream?.destroy();
  }
}

type Probe = { status: number; body: string } | null;

async function get(ip: string, port: number, host: string, timeoutMs: number): Promise<Probe> {
  try {
    const r = await httpGet(ip, port, host, '/', timeoutMs);
    return { status: r.status, body: r.body };
  } catch {
    return null;
  }
}

const probe = (node: AgentNode, host: string, timeoutMs: number) => get(node.ip, node.httpPort, host, timeoutMs);

/** Probes started every 5 ms without waiting; ms since t0 of the start of the first probe that sees `match`. */
async function firstProbeSeeing(send: () => Promise<Probe>, match: (p: Probe) => boolean, t0: number): Promise<number> {
  let found = NaN;
  const inflight = new Set<Promise<void>>();
  for (let i = 0; i < LIMIT_MS / PROBE_EVERY_MS && Number.isNaN(found); i++) {
    const startedAt = performance.now() - t0;
    const p = send().then((r) => {
      if (match(r) && (Number.isNaN(found) || startedAt < found)) found = startedAt;
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    if (inflight.size > 200) await Promise.race(inflight);
    await sleep(PROBE_EVERY_MS);
  }
  await Promise.all(inflight);
  return found;
}

async function cycle(d: PrivateDockerd, clock: EventClock, node: AgentNode, name: string, domain: string, published?: { ip: string; port: number }): Promise<Cycle> {
  const answers = (r: Probe) => r?.status === 200 && r.body.trim() === name;
  const t0 = performance.now();
  const starting = d.docker
    .getContainer(name)
    .start()
    .then(() => d.started(name)); // drops the container's default route
  const [served, portReady] = await Promise.all([
    firstProbeSeeing(() => probe(node, domain, 3000), answers, t0),
    published ? firstProbeSeeing(() => get(published.ip, published.port, domain, 3000), answers, t0) : Promise.resolve(NaN),
    starting,
  ]);
  const startEvent = await clock.since(name, 'start', t0);

  await sleep(200);
  const t1 = performance.now();
  const stopping = d.stopContainer(name);
  const gone = await firstProbeSeeing(() => probe(node, domain, 3000), (r) => r?.status === 404 && !!r.body.includes(UNKNOWN_HOST), t1);
  await stopping;
  const dieEvent = await clock.since(name, 'die', t1);
  await sleep(200);
  return { served, startEvent, portReady, gone, dieEvent };
}

function row(label: string, s: Summary): (string | number)[] {
  return [label, s.n, ms(s.p50), ms(s.p90), ms(s.max), ms(s.min)];
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const cycles = ctx.quick ? 3 : 15;
  const cleanup = new Cleanup();
  try {
    const d = await PrivateDockerd.start();
    cleanup.add('stop the private dockerd', () => d.dispose());
    const dir = await benchDir(cleanup, 'docker');
    const ctl = await startBenchController(cleanup, join(dir.path, 'controller'), { heartbeatSeconds: '2' });
    const siteId = await createSite(ctl.api, 'docker');
    const start = async (name: string, ip: string, env: Record<string, string>) => {
      const node = await startAgentNode(cleanup, { controllerUrl: ctl.c.url, token: await enrollmentToken(ctl.api, siteId), stateDir: join(dir.path, name), ip, name, env });
      await waitOnline(ctl.api, node);
      return node;
    };
    const local = await start('docker-l', '127.0.0.51', { CADDYFLEET_DOCKER_HOST: d.host, CADDYFLEET_DOCKER_LABEL_PREFIX: 'local' });
    const main = await start('docker-a', '127.0.0.52', { CADDYFLEET_NO_DOCKER: 'true' });
    await start('docker-b', '127.0.0.53', { CADDYFLEET_DOCKER_HOST: d.host, CADDYFLEET_HOST_IP: '127.0.0.53' });

    await d.run({ name: 'bench-local', labels: { local: 'http://local.docker.bench.test', 'local.reverse_proxy': '{{upstreams 80}}' } });
    const cross = await d.run({
      name: 'bench-cross',
      labels: { caddy: 'http://cross.docker.bench.test', 'caddy.reverse_proxy': '{{upstreams 80}}', 'caddyfleet.node': 'docker-a' },
      publish: [{ ip: '127.0.0.53', containerPort: 80 }],
    });
    // Both served once before measuring (first list, first sync), then stopped.
    await waitUntil('local route served', async () => (await probe(local, 'local.docker.bench.test', 1000))?.status === 200, 30_000, 50);
    await waitUntil('cross-host route served', async () => (await probe(main, 'cross.docker.bench.test', 1000))?.status === 200, 30_000, 50);
    for (const name of ['bench-local', 'bench-cross']) await d.stopContainer(name);
    await sleep(500);

    const clock = new EventClock();
    await clock.open(d);
    cleanup.add('close the event stream', () => clock.close());
    const results = { local: [] as Cycle[], cross: [] as Cycle[] };
    for (let i = 0; i < cycles; i++) {
      results.local.push(await cycle(d, clock, local, 'bench-local', 'local.docker.bench.test'));
      results.cross.push(await cycle(d, clock, main, 'bench-cross', 'cross.docker.bench.test', { ip: '127.0.0.53', port: cross.published[80]! }));
    }
    const sum = (list: Cycle[], k: keyof Cycle) => summarize(list.map((c) => c[k]).filter(Number.isFinite));
    const s = {
      localServed: sum(results.local, 'served'),
      localStartEvent: sum(results.local, 'startEvent'),
      localGone: sum(results.local, 'gone'),
      localDie: sum(results.local, 'dieEvent'),
      crossServed: sum(results.cross, 'served'),
      crossPort: sum(results.cross, 'portReady'),
      crossStartEvent: sum(results.cross, 'startEvent'),
      crossGone: sum(results.cross, 'gone'),
      crossDie: sum(results.cross, 'dieEvent'),
    };
    const missed = [...results.local, ...results.cross].filter((c) => !Number.isFinite(c.served) || !Number.isFinite(c.gone)).length;
    printTable(
      `docker: ${cycles} start/stop cycles per container, probes every ${PROBE_EVERY_MS} ms (target ≤ 2 s each)`,
      ['measure', 'n', 'p50', 'p90', 'max', 'min'],
      [
        row('same host: start → served by its Caddy', s.localServed),
        row('  limit: start → Docker start event', s.localStartEvent),
        row('same host: stop → gone from its Caddy', s.localGone),
        row('  limit: stop → Docker die event', s.localDie),
        row('cross-host: start on B → served by A', s.crossServed),
        row('  limit: start → Docker start event', s.crossStartEvent),
        row("  limit: start → B's published port answers", s.crossPort),
        row('cross-host: stop on B → gone from A', s.crossGone),
        row('  limit: stop → Docker die event', s.crossDie),
      ],
    );
    if (missed) process.stdout.write(`docker: ${missed} cycle(s) not served or not gone within ${LIMIT_MS / 1000} s\n`);
    return {
      metrics: {
        localServedP50: s.localServed.p50,
        localServedMax: s.localServed.max,
        localGoneP50: s.localGone.p50,
        localGoneMax: s.localGone.max,
        crossServedP50: s.crossServed.p50,
        crossServedMax: s.crossServed.max,
        crossGoneP50: s.crossGone.p50,
        crossGoneMax: s.crossGone.max,
        missed,
      },
      summary: [
        `docker: start→served p50 ${ms(s.localServed.p50)} (max ${ms(s.localServed.max)}) same host, ${ms(s.crossServed.p50)} (max ${ms(s.crossServed.max)}) cross-host`,
        `        stop→gone p50 ${ms(s.localGone.p50)} (max ${ms(s.localGone.max)}) same host, ${ms(s.crossGone.p50)} (max ${ms(s.crossGone.max)}) cross-host`,
      ],
    };
  } finally {
    await cleanup.run();
  }
}

export const docker: Scenario = { name: 'docker', title: 'docker: labelled container start → served, stop → gone (same host and cross-host)', run };
