/**
 * The controller survives its PostgreSQL going away under load: a real cluster is stopped (`pg_ctl stop -m
 * fast`, which terminates every connection) and started again while clients keep calling the API and an agent
 * stays connected. The controller runs as its own process (`caddyfleet server`), so a crash is an exit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE_CODES } from '@caddyfleet/protocol';
import { CLI_BIN } from './helpers/fleet-agent';
import { createDatabase, startPostgres, type PostgresHandle } from './helpers/postgres';
import { freePort, sleep, spawnLogged, tempDir, waitFor, type LoggedProcess, type TempDir } from './helpers/processes';
import { connectPeer, helloFrame } from './helpers/raw-agent';

const PASSWORD = 'db-restart-admin-password';

interface Outcome {
  what: string;
  status: number;
  code: string | null;
  phase: 'before' | 'outage' | 'after';
}

describe('PostgreSQL restart', () => {
  let pg: PostgresHandle;
  let dir: TempDir;
  let proc: LoggedProcess;
  let base = '';
  let token = '';

  beforeAll(async () => {
    pg = await startPostgres();
    dir = await tempDir('cf-dbrestart-');
    const dbUrl = await createDatabase(pg.url);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CADDYFLEET_')) env[k] = v;
    proc = spawnLogged(
      process.execPath,
      [CLI_BIN, 'server', '--listen', `127.0.0.1:${port}`, '--database-url', dbUrl, '--data-dir', dir.path, '--log-level', 'warn', '--heartbeat-seconds', '1', '--offline-after-missed', '30'],
      { env: { ...env, CADDYFLEET_ADMIN_PASSWORD: PASSWORD }, name: 'controller' },
    );
    await proc.waitForOutput('listening on', 30_000);
    const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: PASSWORD }) });
    const cookie = String(login.headers.get('set-cookie')).split(';')[0]!;
    const tok = await fetch(`${base}/api/v1/tokens`, { method: 'POST', headers: { 'content-type': 'application/json', cookie }, body: JSON.stringify({ name: 'db-restart' }) });
    token = ((await tok.json()) as { token: string }).token;
  });
  afterAll(async () => {
    await proc?.stop(10_000);
    await pg?.stop();
    await dir?.cleanup();
  });

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  it('answers 503 database_unavailable while it is away, reconnects by itself and keeps agent sessions', async (ctx) => {
    if (pg.external) return ctx.skip();
    const siteId = (await api('GET', '/nodes/local')).body.siteId;
    const enroll = async (name: string) => {
      const tok = (await api('POST', `/sites/${siteId}/enrollment-tokens`, {})).body.token;
      return (await api('POST', '/agent/enroll', { token: tok, name, hostname: `${name}.test` })).body as { nodeId: string; agentKey: string };
    };
    const wsUrl = `${base.replace('http', 'ws')}/api/v1/agent/connect`;
    const steady = await enroll('steady');
    const chatty = await enroll('chatty');
    const peer = await connectPeer(wsUrl, steady.agentKey);
    peer.send(helloFrame());
    await waitFor(() => peer.frames.some((f) => f.type === 'welcome'));
    const talker = await connectPeer(wsUrl, chatty.agentKey);
    talker.send(helloFrame());
    await waitFor(() => talker.frames.some((f) => f.type === 'welcome'));
    let peerClosed: { code: number } | null = null;
    void peer.closed.then((c) => (peerClosed = c));
    // The steady agent keeps heartbeating through the outage, as a real one does.
    const heartbeat = setInterval(() => {
      peer.send({ type: 'status', routeCount: 0, certCount: 0, caddyVersion: 'v2.6.2', appliedRevision: 0 });
      peer.send({ type: 'ping', t: Date.now() });
    }, 500);

    // ---- load: reads, writes and health checks from four clients, for the whole run
    let phase: Outcome['phase'] = 'before';
    let stop = false;
    const outcomes: Outcome[] = [];
    let n = 0;
    const calls: [string, () => Promise<{ status: number; body: any }>][] = [
      ['GET /routes', () => api('GET', '/routes')],
      ['POST /routes', () => api('POST', '/routes', { kind: 'dead', domains: [`load-${n++}.restart.test`], tls: 'off' })],
      ['GET /nodes', () => api('GET', '/nodes')],
      [
        'GET /healthz',
        async () => {
          const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(15_000) });
          return { status: res.status, body: await res.json() };
        },
      ],
    ];
    const loops = calls.map(async ([what, call]) => {
      for (let i = 0; i < 100_000 && !stop; i++) {
        const at = phase;
        try {
          const r = await call();
          outcomes.push({ what, status: r.status, code: r.body?.error?.code ?? (what === 'GET /healthz' ? r.body.database : null), phase: at });
        } catch (err) {
          outcomes.push({ what, status: 0, code: (err as Error).message, phase: at });
        }
        await sleep(20);
      }
    });

    await sleep(700);
    phase = 'outage';
    await pg.pause();
    const down = await waitFor(async () => {
      const res = await fetch(`${base}/healthz`);
      return res.status === 503 ? ((await res.json()) as { status: string; database: string }) : null;
    });
    expect(down).toMatchObject({ status: 'unavailable', database: 'unavailable' });
    // A frame that needs the database while it is away: the agent is asked to come back later.
    talker.send({ type: 'local-routes', routes: [{ id: 'l1', kind: 'dead', scope: 'local_only', domains: ['l1.restart.test'], tls: 'off' }] });
    expect((await talker.closed).code).toBe(CLOSE_CODES.tryAgainLater);
    const refused = await connectPeer(wsUrl, chatty.agentKey);
    expect(refused.rejected).toMatchObject({ status: 503, body: { error: { code: 'database_unavailable' } } });
    await sleep(1500);
    expect(proc.exitInfo(), proc.describe()).toBeUndefined();

    await pg.resume();
    await waitFor(async () => (await fetch(`${base}/healthz`)).status === 200, { timeoutMs: 30_000 });
    phase = 'after';
    await sleep(1500);
    stop = true;
    await Promise.all(loops);
    clearInterval(heartbeat);

    expect(proc.exitInfo(), proc.describe()).toBeUndefined();
    const bad = outcomes.filter((o) => !(o.status >= 200 && o.status < 300) && !(o.status === 503 && (o.code === 'database_unavailable' || o.code === 'unavailable')));
    expect(bad, JSON.stringify(bad.slice(0, 5))).toEqual([]);
    expect(outcomes.filter((o) => o.phase === 'outage' && o.status === 503).length).toBeGreaterThan(0);
    for (const what of calls.map(([w]) => w)) {
      expect(outcomes.some((o) => o.phase === 'after' && o.what === what && o.status < 300), `${what} works again`).toBe(true);
    }

    // The steady agent's session was kept: still the same socket, and it gets pushes and updates its row.
    expect(peerClosed).toBeNull();
    const route = (await api('POST', '/routes', { kind: 'dead', nodeId: steady.nodeId, domains: ['steady.restart.test'], tls: 'off' })).body;
    await waitFor(() => peer.frames.some((f) => (f.type === 'sync' || f.type === 'delta') && (f.routes ?? f.upsert).some((r: any) => r.id === route.id)));
    peer.send({ type: 'status', routeCount: 7, certCount: 0, caddyVersion: 'v2.6.2', appliedRevision: 0 });
    await waitFor(async () => {
      const node = (await api('GET', `/nodes/${steady.nodeId}`)).body;
      return node.status === 'online' && node.routeCount === 7;
    });

    // The agent that was sent away comes back and publishes again.
    const back = await connectPeer(wsUrl, chatty.agentKey);
    back.send(helloFrame());
    back.send({ type: 'local-routes', routes: [{ id: 'l1', kind: 'dead', scope: 'local_only', domains: ['l1.restart.test'], tls: 'off' }] });
    await waitFor(async () => (await api('GET', `/routes?nodeId=${chatty.nodeId}`)).body.length === 1);
    expect((await api('GET', `/nodes/${chatty.nodeId}`)).body.status).toBe('online');
    peer.ws.close();
    back.ws.close();
  });
});
