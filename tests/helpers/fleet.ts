/**
 * A real fleet for end-to-end tests: a controller running in this process (server mode, SQLite in a temp dir,
 * listening on 127.0.0.1) that can be stopped and started again on the same port and data dir, and agents
 * running as real `node bin/caddyfleet.mjs agent …` child processes, each with its own managed Caddy
 * (/usr/bin/caddy) listening on its own loopback address 127.0.0.N.
 *
 *   const ctl = await FleetController.start();                 // heartbeat 1 s, offline after 3 missed
 *   const a = await FleetAgent.enroll(ctl, { ip: '127.0.0.2', name: 'node-a' });
 *   const route = await ctl.createRoute({ kind: 'dead', nodeId: a.nodeId, domains: ['x.test'], tls: 'off' });
 *   await waitFor(async () => (await a.tryGet('x.test'))?.status === 404);
 *   await a.stop(); await a.start();                            // same state dir and ports
 *   await ctl.stop(); await ctl.start();                        // same port and data dir
 *   afterAll: await a.dispose(); await ctl.dispose();
 *
 * Rules: processes are stopped by the PID we started (a managed Caddy that outlived its agent is killed by its
 * PID after checking its command line belongs to that agent's state dir); every wait is bounded; traffic only
 * goes to 127.0.0.0/8. Every route created in these tests must use `tls: 'off'` (no certificate automation).
 *
 * This file only gathers what the fleet tests use:
 *   ./fleet-controller.ts  FleetController (the in-process controller and its API)
 *   ./fleet-agent.ts       FleetAgent (one agent process and its Caddy), requireCaddy
 *   ./http-probe.ts        httpGet with a Host header, Caddy's 404 texts
 *   ./processes.ts         waitFor, sleep, pidAlive, waitPidGone
 */
export { FleetController, FLEET_ADMIN_PASSWORD, type ApiReply, type FleetControllerOptions, type RouteInput } from './fleet-controller';
export { FleetAgent, CADDY_BIN, CLI_BIN, requireCaddy, type FleetAgentOptions } from './fleet-agent';
export { httpGet, isUnknownHost, DEAD_TEXT, UNKNOWN_HOST_TEXT, type HttpReply } from './http-probe';
export { pidAlive, sleep, waitFor, waitPidGone } from './processes';
export { startUpstream, type Upstream } from '../../apps/agent/test-support/fixtures';
