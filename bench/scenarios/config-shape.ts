/**
 * config-shape: how long Caddy itself takes to `POST /load` the config caddyfleet renders, against the
 * reference shape (one route and one handler per caddyfleet route), for a generated 1,000- and 10,000-route
 * table on one bare Caddy. Loads alternate between the shapes so machine load hits both alike; each load sends
 * `Cache-Control: must-revalidate`, so Caddy really replaces its config every time.
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { recordFigure } from '../lib/figures';
import { benchDir, Cleanup, freePort, startBareCaddy, UpstreamBank } from '../lib/fleet';
import { HostTarget, waitUntil } from '../lib/http';
import { tableRoutes } from '../lib/route-table';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario';
import { currentShape, perRouteShape } from '../lib/shapes';
import { ms, ratio, summarize } from '../lib/stats';
import { printTable } from '../lib/table';

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const sizes = ctx.quick ? [200, 2000] : [1000, 10_000];
  const reps = ctx.quick ? 2 : 5;
  const cleanup = new Cleanup();
  try {
    const dir = await benchDir(cleanup, 'shape');
    const bank = await UpstreamBank.start(6);
    cleanup.add('close upstreams', () => bank.close());
    const caddy = await startBareCaddy(cleanup, join(dir.path, 'caddy'));
    const ip = '127.0.0.5';
    const httpPort = await freePort(ip);
    let httpsPort = await freePort(ip);
    if (httpsPort === httpPort) httpsPort = await freePort(ip);
    const opts = { httpListen: `${ip}:${httpPort}`, httpsListen: `${ip}:${httpsPort}`, adminListen: caddy.adminListen, layer4: false, storageDir: caddy.storageDir };
    const target = new HostTarget(ip, httpPort);
    cleanup.add('close poller', () => target.close());

    const rows: (string | number)[][] = [];
    const metrics: Record<string, number> = {};
    const summary: string[] = [];
    for (const size of sizes) {
      const routes = tableRoutes(size, { ports: bank.ports });
      const t0 = performance.now();
      const current = currentShape(routes, opts);
      const buildCurrent = performance.now() - t0;
      const t1 = performance.now();
      const reference = perRouteShape(routes, opts);
      const buildReference = performance.now() - t1;
      const bodies = { current: JSON.stringify(current.config), reference: JSON.stringify(reference.config) };
      const times: Record<'current' | 'reference', number[]> = { current: [], reference: [] };
      // A proxy route and a redirect route, checked after each shape's loads: both shapes must serve.
      const probe = routes.find((r) => r.kind === 'proxy' && r.upstreams.length === 1)!;
      const redirect = routes.find((r) => r.kind === 'redirect')!;
      for (let i = 0; i < reps + 1; i++) {
        for (const shape of ['current', 'reference'] as const) {
          const t = performance.now();
          await caddy.admin.load(bodies[shape]);
          if (i > 0) times[shape].push(performance.now() - t);
          if (i === 0) {
            const want = UpstreamBank.answer(probe.upstreams[0]!.port, probe.domains[0]!);
            await waitUntil(`${shape} shape serves ${probe.domains[0]}`, async () => (await target.tryGet(probe.domains[0]!))?.body === want, 10_000, 20);
            const r = await target.get(redirect.domains[0]!);
            if (r.status !== redirect.redirect!.status) throw new Error(`${shape} shape: ${redirect.domains[0]} answered ${r.status}, expected ${redirect.redirect!.status}`);
          }
        }
      }
      const cur = summarize(times.current);
      const ref = summarize(times.reference);
      rows.push(
        [`${size} routes: current shape`, `${(bodies.current.length / 1024).toFixed(0)} KiB`, ms(buildCurrent), cur.n, ms(cur.p50), ms(cur.min), ms(cur.max)],
        [`${size} routes: one handler per route`, `${(bodies.reference.length / 1024).toFixed(0)} KiB`, ms(buildReference), ref.n, ms(ref.p50), ms(ref.min), ms(ref.max)],
      );
      metrics[`ratio${size}`] = cur.p50 / ref.p50;
      recordFigure({
        name: `Caddy /load time of caddyfleet's config vs one handler per route, ${size.toLocaleString('en')} routes`,
        value: cur.p50 / ref.p50,
        unit: '×',
        goal: { op: '≤', value: 0.33 },
        detail: `p50 ${ms(cur.p50)} vs ${ms(ref.p50)} (${reps} loads each, alternating, bare Caddy)`,
      });
      summary.push(`config-shape ${size} routes: /load p50 ${ms(cur.p50)} vs per-route ${ms(ref.p50)} → ${ratio(cur.p50, ref.p50)}`);
    }
    printTable('config-shape: POST /load on a bare Caddy, generated table (80 % proxies on few upstream sets, 10 % redirects, 5 % 404 hosts)', ['config', 'JSON', 'build', 'n', 'load p50', 'min', 'max'], rows);
    return { metrics, summary };
  } finally {
    await cleanup.run();
  }
}

export const configShape: Scenario = { name: 'config-shape', title: '2. config-shape (Caddy /load time of the rendered config, 1,000 and 10,000 routes; --quick: 200, 2,000)', run };
