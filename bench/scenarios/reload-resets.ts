/**
 * reload-resets: clients on keep-alive connections keep requesting one route of a real node while another route
 * of that node is changed over and over, so its Caddy reloads its config each time. Counted: requests that
 * failed at the connection level (reset, hang-up) and answers that were not the expected 200, per reload.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { Cleanup, setupLoadedNode, UpstreamBank } from '../lib/fleet';
import { sleep, waitUntil } from '../lib/http';
import type { Scenario, ScenarioContext, ScenarioResult } from '../lib/scenario';
import { int } from '../lib/stats';
import { printKeyValues } from '../lib/table';

interface Counts {
  ok: number;
  wrong: number;
  errors: Map<string, number>;
}

function request(agent: http.Agent, ip: string, port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: ip, port, path: '/', headers: { Host: host }, agent, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      // A reset on a reused keep-alive socket is the reload closing it while a request was on its way.
      err.code = `${err.code ?? err.message}${req.reusedSocket ? ' on a reused socket' : ' on a new socket'}`;
      reject(err);
    });
  });
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const reloads = ctx.quick ? 10 : 40;
  const clients = 4;
  const cleanup = new Cleanup();
  try {
    const setup = await setupLoadedNode(cleanup, { name: 'resets', ip: '127.0.0.5', routeCount: 20, upstreams: 3 });
    const { ctl, node, routes, bank } = setup;
    const steady = routes[0]!;
    const changed = routes[1]!;
    const want = UpstreamBank.answer(bank.ports[0]!, steady.domains[0]!);
    const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
    cleanup.add('close client agent', () => agent.destroy());
    const counts: Counts = { ok: 0, wrong: 0, errors: new Map() };
    let stop = false;
    const loop = async () => {
      for (let i = 0; i < 1_000_000 && !stop; i++) {
        try {
          const r = await request(agent, node.ip, node.httpPort, steady.domains[0]!);
          if (r.status === 200 && r.body === want) counts.ok++;
          else counts.wrong++;
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          const key = e.code ?? e.message;
          counts.errors.set(key, (counts.errors.get(key) ?? 0) + 1);
        }
      }
    };
    const loops = Array.from({ length: clients }, loop);
    await sleep(500);
    const t0 = performance.now();
    const loads0 = (await node.local.status()).loadCount;
    for (let i = 0; i < reloads; i++) {
      await ctl.api.patch(`/routes/${changed.id}`, { upstreams: [{ host: '127.0.0.1', port: bank.ports[1 + (i % 2)]! }] });
      const desired = (await ctl.api.get(`/nodes/${node.nodeId}`)).desiredRevision as number;
      await waitUntil('applied', async () => (await node.local.status()).appliedRevision >= desired, 20_000, 10);
      await sleep(150);
    }
    await sleep(500);
    stop = true;
    await Promise.all(loops);
    const loads = (await node.local.status()).loadCount - loads0;
    const errors = [...counts.errors.values()].reduce((a, b) => a + b, 0);
    const total = counts.ok + counts.wrong + errors;
    printKeyValues('keep-alive requests while the node reloads', [
      ['requests', int(total), `${clients} keep-alive clients, ${((performance.now() - t0) / 1000).toFixed(1)} s`],
      ['Caddy config loads', int(loads)],
      ['connection errors', int(errors), [...counts.errors].map(([k, v]) => `${k} ×${v}`).join(', ') || '—'],
      ['unexpected answers', int(counts.wrong)],
    ]);
    return {
      metrics: { requests: total, loads, errors, wrong: counts.wrong },
      summary: [`reload-resets: ${errors} connection errors and ${counts.wrong} wrong answers in ${total} keep-alive requests over ${loads} reloads`],
    };
  } finally {
    await cleanup.run();
  }
}

export const reloadResets: Scenario = { name: 'reload-resets', title: 'reload-resets: keep-alive clients while the node reloads', run };
