/**
 * agent-load: what one agent can make the controller do. A simulated agent (protocol only) sends the largest
 * `local-routes` frame the protocol allows while a worker thread polls `/healthz` every 5 ms; reported are the
 * `/healthz` latencies while the controller stores the frame, how long storing took and the audit rows it
 * wrote. Then the agent sends 300 frames that flip one route back and forth as fast as it can: reported are
 * the frames the controller took before closing the agent (if it did) and the audit rows written.
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { LIMITS, type AgentFrame } from '@caddyfleet/protocol';
import { benchDir, Cleanup, createSite, enrollmentToken, startBenchController } from '../lib/fleet';
import { HealthzPoller, type PollSample } from '../lib/healthz-poller';
import { sleep, waitUntil } from '../lib/http';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario';
import { SimAgent } from '../lib/sim-agent';
import { int, ms, summarize } from '../lib/stats';
import { printKeyValues } from '../lib/table';

type LocalRoutes = Extract<AgentFrame, { type: 'local-routes' }>['routes'];

/** The largest frame the protocol accepts: as many routes as allowed, the per-frame domain budget spread over them. */
function maxFrame(): { routes: LocalRoutes; domains: number } {
  const limits = LIMITS as unknown as Record<string, number>;
  const routeCount = limits.localRoutesPerFrame ?? 10_000;
  const perRoute = limits.localDomainsPerFrame ? Math.max(1, Math.floor(limits.localDomainsPerFrame / routeCount)) : 1;
  const routes: LocalRoutes = [];
  for (let i = 0; i < routeCount; i++) {
    const domains = Array.from({ length: perRoute }, (_, d) => `l${i}-${d}.stall.test`);
    routes.push({ id: `l${i}`, kind: 'proxy', nodeId: null, scope: 'local_only', enabled: true, domains, upstreams: [{ host: '127.0.0.1', port: 9000 }], tls: 'off' });
  }
  return { routes, domains: routeCount * perRoute };
}

const flip = (i: number): LocalRoutes => [
  { id: 'flip', kind: 'proxy', nodeId: null, scope: 'local_only', enabled: true, domains: [i % 2 ? 'flip-a.stall.test' : 'flip-b.stall.test'], upstreams: [{ host: '127.0.0.1', port: 9000 }], tls: 'off' },
];

async function run(_ctx: ScenarioContext): Promise<ScenarioResult> {
  const cleanup = new Cleanup();
  try {
    const dir = await benchDir(cleanup, 'agent-load');
    const ctl = await startBenchController(cleanup, join(dir.path, 'controller'));
    const siteId = await createSite(ctl.api, 'load');
    const enroll = async (name: string) => {
      const token = await enrollmentToken(ctl.api, siteId);
      const res = await fetch(`${ctl.c.url}/api/v1/agent/enroll`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token, name, hostname: `${name}.bench.test` }),
      });
      if (!res.ok) throw new Error(`enroll ${name}: HTTP ${res.status} ${await res.text()}`);
      const creds = (await res.json()) as { nodeId: string; agentKey: string };
      const sim = new SimAgent(creds.nodeId, creds.agentKey);
      cleanup.add(`close ${name}`, () => sim.close());
      await sim.connect(ctl.c.url.replace('http', 'ws') + '/api/v1/agent/connect');
      return sim;
    };
    const auditRows = async () => Number((await ctl.c.store.db.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const localCount = async (nodeId: string) =>
      Number((await ctl.c.store.db.selectFrom('routes').select((eb) => eb.fn.countAll<number>().as('n')).where('node_id', '=', nodeId).where('scope', '=', 'local_only').executeTakeFirstOrThrow()).n);

    // ---- one maximal frame
    const big = await enroll('big');
    await sleep(300);
    const frame = maxFrame();
    const audit0 = await auditRows();
    const poller = new HealthzPoller(`${ctl.c.url}/healthz`, 5);
    await sleep(500);
    // Frames are handled in order: the pong to a ping sent after the frame means the frame is stored.
    const handled = async (): Promise<number> => {
      const pongs = big.counters.pongs;
      big.send({ type: 'ping', t: Date.now() });
      await waitUntil('frame handled', () => big.counters.pongs > pongs, 120_000, 2);
      return performance.now();
    };
    const sentAt = performance.now();
    const sentWall = Date.now();
    big.send({ type: 'local-routes', routes: frame.routes });
    const storedAt = await handled();
    await sleep(500);
    const samples: PollSample[] = await poller.stop();
    const during = samples.filter((s) => s.at >= sentWall - 5 && s.at <= sentWall + (storedAt - sentAt) + 5);
    const all = summarize(samples.map((s) => s.ms));
    const win = summarize(during.map((s) => s.ms));
    const stored1 = await localCount(big.nodeId);
    const audit1 = await auditRows();

    // ---- the same frame again: nothing changed
    const againSent = performance.now();
    big.send({ type: 'local-routes', routes: frame.routes });
    const againAt = await handled();
    const audit2 = await auditRows();

    // ---- 300 flip-flopping frames as fast as the socket goes
    const flipper = await enroll('flipper');
    await sleep(300);
    const flipAudit0 = await auditRows();
    let sent = 0;
    for (let i = 0; i < 300 && flipper.ws?.readyState === 1; i++) {
      flipper.send({ type: 'local-routes', routes: flip(i) });
      sent++;
    }
    let last = -1;
    let stableSince = Date.now();
    await waitUntil(
      'flip frames handled (audit rows stable for 1.5 s)',
      async () => {
        const n = await auditRows();
        if (n !== last) {
          last = n;
          stableSince = Date.now();
        }
        return Date.now() - stableSince >= 1500;
      },
      120_000,
      100,
    );
    const flipAudit = (await auditRows()) - flipAudit0;

    // ---- the same flapping, paced below the frame rate limit (one frame every 1.1 s)
    const paced = await enroll('paced');
    await sleep(300);
    const pacedAudit0 = await auditRows();
    const pacedFrames = 12;
    for (let i = 0; i < pacedFrames && paced.ws?.readyState === 1; i++) {
      paced.send({ type: 'local-routes', routes: flip(i) });
      await sleep(1100);
    }
    const pacedAudit = (await auditRows()) - pacedAudit0;

    printKeyValues('one maximal local-routes frame', [
      ['routes in the frame', int(frame.routes.length), `${int(frame.domains)} domains`],
      ['stored local routes afterwards', int(stored1)],
      ['time to store', ms(storedAt - sentAt), 'from send to the pong of a ping sent after it'],
      ['/healthz while storing: p50 / p99 / max', `${ms(win.p50)} / ${ms(win.p99)} / ${ms(win.max)}`, `${win.n} requests`],
      ['/healthz whole run: p99 / max', `${ms(all.p99)} / ${ms(all.max)}`, `${all.n} requests`],
      ['audit rows written by the frame', int(audit1 - audit0)],
      ['same frame again: time / audit rows', `${ms(againAt - againSent)} / ${int(audit2 - audit1)}`],
      ['flip-flop frames sent / socket closed by controller', `${sent} / ${flipper.closedWith ?? 'no'}`],
      ['audit rows written by the flip-flop frames', int(flipAudit)],
      [`paced flip-flop: ${pacedFrames} frames, 1.1 s apart`, `${int(pacedAudit)} audit rows`, paced.closedWith ? `closed with ${paced.closedWith}` : 'stayed connected'],
    ]);
    return {
      metrics: { routes: frame.routes.length, storeMs: storedAt - sentAt, healthzP99: win.p99, healthzMax: win.max, auditRows: audit1 - audit0, flipAudit },
      summary: [
        `agent-load: ${frame.routes.length}-route frame stored in ${ms(storedAt - sentAt)}; /healthz meanwhile p99 ${ms(win.p99)}, max ${ms(win.max)}; audit rows ${audit1 - audit0}`,
        `agent-load: 300 flip-flop frames → ${flipAudit} audit rows${flipper.closedWith ? ` (agent closed with ${flipper.closedWith})` : ''}; ${pacedFrames} paced ones → ${pacedAudit}`,
      ],
    };
  } finally {
    await cleanup.run();
  }
}

export const agentLoad: Scenario = { name: 'agent-load', title: 'agent-load: one agent\'s largest frame and a flip-flopping agent', run };
