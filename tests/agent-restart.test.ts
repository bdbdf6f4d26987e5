/**
 * Issue #7 item 6, zero-downtime agent restarts, with real parts: a controller in this process (SQLite,
 * 127.0.0.1), agents as real `caddyfleet agent` processes with their managed /usr/bin/caddy on 127.0.0.40 and
 * .41, an upstream on 127.0.0.1, and a client loop that opens one new connection per request through the
 * node's Caddy while the agent restarts.
 *
 *  (a) keepCaddy, SIGTERM + start: no failed request, the same Caddy PID is adopted, nothing is re-loaded;
 *  (b) keepCaddy, SIGKILL + start: Caddy keeps serving on its own (and logging: its output is a file, not a
 *      pipe to the dead agent), then is adopted;
 *  (c) keepCaddy off: SIGTERM stops Caddy as before (the downtime this feature removes, measured);
 *  (d) a Caddy left running is stopped by its PID at the end;
 *  (e) an agent that ends because it was revoked takes its Caddy down even with keepCaddy.
 * The measured downtime (failed requests, longest gap between good answers) is printed.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaddyAdmin } from '@caddyfleet/caddy';
import { readProcStat } from '../apps/agent/src/caddy-pid';
import { FleetAgent, FleetController, pidAlive, requireCaddy, sleep, startUpstream, waitPidGone, type HttpReply, type Upstream } from './helpers/fleet';
import { describeTraffic, startTraffic, type TrafficReport } from './helpers/traffic';

const hasCaddy = requireCaddy();

const KEEP_HOST = 'keep.restart.test';
const PLAIN_HOST = 'plain.restart.test';

describe.skipIf(!hasCaddy)('agent restarts: the agent adopts the Caddy it left running', () => {
  let ctl: FleetController;
  let up: Upstream | undefined;
  let agents: FleetAgent[] = [];
  /** CADDYFLEET_KEEP_CADDY=true (as the systemd unit sets it). */
  let keep: FleetAgent;
  /** Default options: stopping the agent stops Caddy. */
  let plain: FleetAgent;
  const measured: string[] = [];

  const served = (host: string) => (r: HttpReply) => r.status === 200 && r.body === `UP ${host}/`;
  const traffic = (a: FleetAgent, host: string) => startTraffic({ ip: a.ip, port: a.httpPort, host, ok: served(host) });
  const record = (label: string, r: TrafficReport) => {
    const line = describeTraffic(label, r);
    measured.push(line);
    console.log(`[agent-restart] ${line}`);
  };

  /**
   * Starts `keep` again while the client loop `t` runs through its Caddy: the loop went on while no agent ran
   * (starting the agent process takes a while), and no request failed across the restart.
   */
  async function startKeepWithoutLoss(t: ReturnType<typeof traffic>, label: string): Promise<void> {
    const whileAway = t.count();
    await keep.start();
    expect(t.count()).toBeGreaterThan(whileAway + 10);
    await ctl.waitInSync(keep.nodeId);
    await sleep(300);
    const report = await t.stop();
    record(label, report);

    expect(report.exhausted, 'the client loop hit its bounds before the restart was over').toBe(false);
    expect(report.failed, report.samples.join('\n')).toBe(0);
  }

  beforeAll(async () => {
    ctl = await FleetController.start();
    up = await startUpstream('UP');
    const started = await Promise.allSettled([
      FleetAgent.enroll(ctl, { ip: '127.0.0.40', name: 'restart-keep', env: { CADDYFLEET_KEEP_CADDY: 'true' } }),
      FleetAgent.enroll(ctl, { ip: '127.0.0.41', name: 'restart-plain' }),
    ]);
    agents = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    [keep, plain] = agents as [FleetAgent, FleetAgent];
    const upstreams = [{ host: '127.0.0.1', port: up.port }];
    await ctl.createRoute({ kind: 'proxy', nodeId: keep.nodeId, domains: [KEEP_HOST], upstreams });
    await ctl.createRoute({ kind: 'proxy', nodeId: plain.nodeId, domains: [PLAIN_HOST], upstreams });
    await keep.waitServes(KEEP_HOST, served(KEEP_HOST), `serves ${KEEP_HOST}`);
    await plain.waitServes(PLAIN_HOST, served(PLAIN_HOST), `serves ${PLAIN_HOST}`);
    await Promise.all(agents.map((a) => ctl.waitInSync(a.nodeId)));
  });

  afterAll(async () => {
    // dispose() also kills (by PID, after checking its command line) a Caddy that a failed test left running.
    await Promise.all(agents.map((a) => a.dispose()));
    await ctl?.dispose();
    await up?.close();
    if (measured.length) console.log(`[agent-restart] downtime across an agent restart:\n  ${measured.join('\n  ')}`);
  });

  it('(a) keepCaddy: SIGTERM and start again; no request fails and the same Caddy is adopted', async () => {
    const caddyPid = await keep.caddyPid();
    // Its own process group: a terminal's Ctrl-C to the agent's group does not reach it.
    expect(readProcStat(caddyPid)?.pgrp).toBe(caddyPid);
    const t = traffic(keep, KEEP_HOST);
    await sleep(300);
    const exit = await keep.stop();
    expect(exit, keep.describe()).toMatchObject({ code: 0, signal: null });
    expect(keep.output()).toContain('leaving Caddy running for the next agent to adopt');
    expect(pidAlive(caddyPid)).toBe(true);
    await startKeepWithoutLoss(t, 'keepCaddy on, agent SIGTERM + start');
    expect(keep.output()).toContain('adopted the Caddy left running by the previous agent');
    const s = await keep.status();
    expect(s.caddy.pid).toBe(caddyPid);
    expect(s.caddy.restarts).toBe(0);
    // Caddy already ran the applied config: adopting it loaded nothing (not even an identical config).
    expect(s.loadCount).toBe(0);
  });

  it('(b) keepCaddy: SIGKILL; Caddy keeps serving on its own, and the next agent adopts it', async () => {
    const caddyPid = await keep.caddyPid();
    const t = traffic(keep, KEEP_HOST);
    await sleep(300);
    process.kill(keep.pid!, 'SIGKILL');
    const exit = await keep.waitExit();
    expect(exit.signal).toBe('SIGKILL');
    // Make Caddy write to its output while its agent is dead (every admin request is logged): with a pipe to
    // the agent it would now die of SIGPIPE.
    const admin = new CaddyAdmin(`unix/${join(keep.stateDir, 'caddy', 'admin.sock')}`, { timeoutMs: 3000 });
    for (let i = 0; i < 3; i++) expect(await admin.ping()).toBe(true);
    await sleep(500);
    expect(pidAlive(caddyPid)).toBe(true);
    await startKeepWithoutLoss(t, 'keepCaddy on, agent SIGKILL + start');
    const s = await keep.status();
    expect(s.caddy.pid).toBe(caddyPid);
    expect(s.loadCount).toBe(0);
  });

  it('(c) keepCaddy off: SIGTERM stops Caddy with the agent, as before (measured)', async () => {
    const caddyPid = await plain.caddyPid();
    const t = traffic(plain, PLAIN_HOST);
    await sleep(300);
    const exit = await plain.stop();
    expect(exit, plain.describe()).toMatchObject({ code: 0, signal: null });
    await waitPidGone(caddyPid);
    expect(await plain.tryGet(PLAIN_HOST, '/', 1000)).toBeNull();
    await plain.start();
    await plain.waitServes(PLAIN_HOST, served(PLAIN_HOST), `serves ${PLAIN_HOST} again`);
    await sleep(300);
    const report = await t.stop();
    record('keepCaddy off (before), agent SIGTERM + start', report);

    expect(report.exhausted).toBe(false);
    expect(report.refused).toBeGreaterThan(0);
    expect(await plain.caddyPid()).not.toBe(caddyPid);
    expect(plain.output()).not.toContain('adopted the Caddy');
  });

  it('(d) a Caddy left running by a stopped agent is stopped by its PID', async () => {
    const caddyPid = await keep.caddyPid();
    await keep.stop();
    expect(pidAlive(caddyPid)).toBe(true);
    expect(await keep.get(KEEP_HOST, '/', 2000)).toMatchObject({ status: 200 });
    process.kill(caddyPid, 'SIGTERM');
    await waitPidGone(caddyPid);
    expect(await keep.tryGet(KEEP_HOST, '/', 1000)).toBeNull();
  });

  it('(e) keepCaddy: an agent that ends because it was revoked still takes its Caddy down', async () => {
    await keep.start();
    const caddyPid = await keep.caddyPid();
    await ctl.ok('POST', `/nodes/${keep.nodeId}/revoke`);
    const exit = await keep.waitExit(15_000);
    expect(exit.code, keep.describe()).not.toBe(0);
    expect(keep.output()).toMatch(/agent key revoked/);
    await waitPidGone(caddyPid);
    expect(await keep.tryGet(KEEP_HOST, '/', 1000)).toBeNull();
  });
});
