/**
 * A controller child process (`caddyfleet server --no-local-node`) on SQLite or on a throwaway PostgreSQL 15
 * cluster, with `count` nodes seeded straight into its database (enrollment is not what these scenarios
 * measure, and 10,000 enrollments through the API would take minutes) and one simulated agent per node.
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { loadConfig, startController } from '@caddyfleet/controller';
import { randomSecret, sha256 } from '../../apps/controller/src/crypto';
import { newNodeRow } from '../../apps/controller/src/services/node-service';
import { SYSTEM_ACTOR } from '../../apps/controller/src/services/context';
import { createDatabase, startPostgres } from '../../tests/helpers/postgres';
import { spawnLogged, type LoggedProcess } from '../../tests/helpers/processes';
import { stopPid, trackPid, untrackPid } from './cleanup';
import { ADMIN_PASSWORD, benchDir, childEnv, CLI, Cleanup, freePort, REPO } from './fleet';
import { ApiClient, waitUntil } from './http';
import { sampleProc, type ProcSample } from './procstat';
import { SimAgent } from './sim-agent';

export type Store = 'sqlite' | 'postgres';

export interface SimFleet {
  store: Store;
  url: string;
  proc: LoggedProcess;
  api: ApiClient;
  siteId: string;
  sims: SimAgent[];
  /** One /proc sample of the controller child (the previous one if it is gone). */
  sample(): ProcSample;
  samples: ProcSample[];
  connectMs: number;
  connectFailures: number;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** A PostgreSQL cluster for the scenario, stopped by `cleanup`; returns a URL to a fresh database. */
export async function scenarioPostgres(cleanup: Cleanup): Promise<string> {
  const pg = await startPostgres();
  cleanup.add('stop PostgreSQL', () => pg.stop());
  return createDatabase(pg.url);
}

/** Creates tenant → org → site and `count` enrolled nodes directly through the controller's own code. */
async function seed(dataDir: string, databaseUrl: string | undefined, count: number): Promise<{ siteId: string; nodes: { nodeId: string; agentKey: string }[] }> {
  const config = loadConfig('server', { listen: '127.0.0.1:0', dataDir, ...(databaseUrl ? { databaseUrl } : {}), adminPassword: ADMIN_PASSWORD, logLevel: 'error', localNode: 'false' }, {});
  const c = await startController(config, { listen: false, announce: () => {} });
  try {
    const h = c.services.hierarchy;
    const tenant = await h.create(SYSTEM_ACTOR, 'tenants', { name: 'sim-tenant' });
    const org = await h.create(SYSTEM_ACTOR, 'organizations', { name: 'sim-org', tenantId: tenant.id });
    const site = await h.create(SYSTEM_ACTOR, 'sites', { name: 'sim-site', organizationId: org.id });
    const nodes: { nodeId: string; agentKey: string }[] = [];
    const now = new Date().toISOString();
    for (let start = 0; start < count; start += 500) {
      const rows = [];
      for (let i = start; i < Math.min(count, start + 500); i++) {
        const agentKey = randomSecret('cfa');
        const nodeId = `node_sim${String(i).padStart(5, '0')}`;
        nodes.push({ nodeId, agentKey });
        rows.push(newNodeRow({ id: nodeId, site_id: site.id, name: `sim-${i}`, hostname: `sim-${i}.bench.test`, is_local: 0, agent_key_hash: sha256(agentKey) }, now));
      }
      await c.store.db.insertInto('nodes').values(rows).execute();
    }
    return { siteId: site.id, nodes };
  } finally {
    await c.close();
  }
}

export async function startSimFleet(
  cleanup: Cleanup,
  opts: { store: Store; count: number; heartbeatSeconds: number; name: string; databaseUrl?: string },
): Promise<SimFleet> {
  const dir = await benchDir(cleanup, opts.name);
  const dataDir = join(dir.path, 'data');
  const { siteId, nodes } = await seed(dataDir, opts.databaseUrl, opts.count);

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // BENCH_PROFILE_DIR=<dir>: the controller child writes a V8 CPU profile there when it exits.
  const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];
  const args = [...profile, CLI, 'server', '--no-local-node', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log-level', 'warn'];
  if (opts.databaseUrl) args.push('--database-url', opts.databaseUrl);
  const proc = spawnLogged(process.execPath, args, {
    cwd: REPO,
    env: childEnv({ CADDYFLEET_ADMIN_PASSWORD: ADMIN_PASSWORD, CADDYFLEET_HEARTBEAT_SECONDS: String(opts.heartbeatSeconds) }),
    name: `controller (${opts.store})`,
  });
  trackPid(proc.pid, 'controller');
  cleanup.add('stop the controller child', async () => {
    await proc.stop(10_000);
    untrackPid(proc.pid);
    await stopPid(proc.pid, 1000);
  });
  await proc.waitForOutput(/listening on/, 60_000);
  const samples: ProcSample[] = [];
  const sample = () => {
    try {
      const s = sampleProc(proc.pid, performance.now());
      samples.push(s);
      return s;
    } catch {
      return samples[samples.length - 1]!;
    }
  };
  const sampler = setInterval(sample, 250);
  cleanup.add('stop sampling', () => clearInterval(sampler));
  const api = await ApiClient.login(url, ADMIN_PASSWORD);

  const sims = nodes.map((n) => new SimAgent(n.nodeId, n.agentKey));
  cleanup.add('close simulated agents', () => sims.forEach((s) => s.close()));
  const wsUrl = `ws://127.0.0.1:${port}/api/v1/agent/connect`;
  let connectFailures = 0;
  const t0 = performance.now();
  await pool(sims, 50, async (s) => {
    try {
      await s.connect(wsUrl);
    } catch {
      connectFailures++;
    }
  });
  const connectMs = performance.now() - t0;
  await waitUntil('simulated agents welcomed', () => sims.every((s) => s.welcomed || s.closedWith !== null), 60_000, 100);
  return { store: opts.store, url, proc, api, siteId, sims, sample, samples, connectMs, connectFailures };
}
