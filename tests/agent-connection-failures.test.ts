/**
 * The agent's side of the controller protocol when things go wrong, against a scripted fake controller (real
 * HTTP + WebSocket on 127.0.0.1, tests/helpers/fake-controller.ts) and a real managed Caddy: bad frames,
 * half-open connections, revocation, refused upgrades, protocol mismatch and refused enrollment.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { CLOSE_CODES, PROTOCOL_VERSION, type ControllerFrame } from '@caddyfleet/protocol';
import { EnrollError } from '@caddyfleet/agent';
import { StateStore } from '../apps/agent/src/state';
import { CADDY, useFakeControllerAgents } from './helpers/fake-controller';
import { requireBinary, sleep, waitFor } from './helpers/processes';

const hasCaddy = requireBinary(CADDY, 'caddy');

describe.skipIf(!hasCaddy)('agent ↔ controller protocol failures (fake controller, real Caddy)', () => {
  const h = useFakeControllerAgents();

  it('closes with 4001 on a frame that is not valid, and reconnects', async () => {
    await h.freshController();
    await h.setup();
    const conn = await h.fake.conn(1);
    await conn.frame('status');
    conn.send('this is not json');
    expect(await conn.closed).toMatchObject({ code: CLOSE_CODES.badFrame });
    const conn2 = await h.fake.conn(2);
    await conn2.frame('hello');
    conn2.send({ type: 'sync', revision: 1, routes: 'nope' } as unknown as ControllerFrame);
    expect((await conn2.closed).code).toBe(CLOSE_CODES.badFrame);
    await h.fake.conn(3);
  });

  it('drops a connection the controller went silent on (3 heartbeats) and reconnects', async () => {
    await h.freshController();
    const { logs } = await h.setup();
    const conn = await h.fake.conn(1);
    await conn.frame('status');
    // The fake controller never sends anything after welcome (heartbeat 1 s): the agent must give up after ~3 s.
    const closed = await Promise.race([conn.closed, sleep(8000).then(() => null)]);
    expect(closed).not.toBeNull();
    const silentFor = Date.now() - conn.openedAt;
    expect(silentFor).toBeGreaterThanOrEqual(2500);
    await h.fake.conn(2);
    expect(logs.text()).toContain('nothing from the controller for 3 heartbeats');
  });

  it('stops for good when the controller closes with 4403 (revoked)', async () => {
    await h.freshController();
    const { agent, logs } = await h.setup();
    const conn = await h.fake.conn(1);
    await conn.frame('status');
    conn.ws.close(CLOSE_CODES.revoked, 'agent key revoked by the controller');
    const done = await Promise.race([agent.done, sleep(5000).then(() => null)]);
    expect(done?.reason).toMatch(/agent key revoked by the controller; enroll again with a new token/);
    await sleep(1000);
    expect(h.fake.connections).toHaveLength(1);
    expect(agent.status().connected).toBe(false);
    expect(logs.text()).toMatch(/agent key revoked by the controller; enroll again with a new token/);
  });

  it.each([
    ['agent_key_revoked', 'this agent key was revoked; enroll again with a new token', /agent key revoked by the controller/],
    ['agent_key_invalid', 'unknown agent key', /agent key rejected by the controller \(unknown agent key\)/],
  ])('stops for good when the upgrade is refused with 401 %s', async (code, message, expected) => {
    await h.freshController((f) => (f.rejectUpgrade = { status: 401, code, message }));
    const { agent } = await h.setup();
    const done = await Promise.race([agent.done, sleep(5000).then(() => null)]);
    expect(done?.reason).toMatch(expected);
    await sleep(1000);
    expect(h.fake.upgrades).toHaveLength(1);
  });

  it('keeps retrying other refusals (401 with another code, 503)', async () => {
    await h.freshController((f) => (f.rejectUpgrade = { status: 401, code: 'unauthorized', message: 'try later' }));
    const { agent, logs } = await h.setup();
    await waitFor(() => h.fake.upgrades.length >= 3, { timeoutMs: 10_000, description: '3 upgrade attempts' });
    h.fake.rejectUpgrade = { status: 503, code: 'unavailable', message: 'starting' };
    const n = h.fake.upgrades.length;
    await waitFor(() => h.fake.upgrades.length >= n + 2, { timeoutMs: 10_000, description: 'more attempts' });
    h.fake.rejectUpgrade = null;
    await h.fake.conn(1);
    await waitFor(() => agent.status().connected, { description: 'connected in the end' });
    expect(logs.text()).toContain('could not connect to the controller; retrying');
  });

  it('retries slowly (near the maximum backoff) after a protocol mismatch', async () => {
    await h.freshController((f) => (f.welcome = { heartbeatSeconds: 1, protocolVersion: PROTOCOL_VERSION + 1 }));
    const { logs } = await h.setup({ reconnectMinMs: 50, reconnectMaxMs: 2000 });
    const conn = await h.fake.conn(1);
    const closed = await conn.closed;
    // Next connection: no welcome; the fake refuses the hello with 4000 itself (below).
    h.fake.welcome = null;
    expect(closed.code).toBe(CLOSE_CODES.protocolMismatch);
    expect(closed.reason).toContain(`agent speaks ${PROTOCOL_VERSION}`);
    const closedAt = Date.now();
    await h.fake.conn(2);
    // slow(): uniform in [max/2, max] = [1000, 2000] ms; plain backoff would be ≤ 50 ms here.
    expect(h.fake.connections[1]!.openedAt - closedAt).toBeGreaterThanOrEqual(900);
    expect(logs.text()).toContain(`protocol mismatch with the controller: controller speaks protocol ${PROTOCOL_VERSION + 1}, agent speaks ${PROTOCOL_VERSION}`);

    // Also when the controller is the one closing with 4000 (it refused our hello).
    const conn2 = h.fake.connections[1]!;
    await conn2.frame('hello');
    conn2.ws.close(CLOSE_CODES.protocolMismatch, 'protocol version 1 not supported; controller speaks 2');
    await conn2.closed;
    const at = Date.now();
    await h.fake.conn(3);
    expect(h.fake.connections[2]!.openedAt - at).toBeGreaterThanOrEqual(900);
    expect(logs.text()).toContain('protocol version 1 not supported; controller speaks 2');
  });

  it("refuses to start when enrollment is refused, with the controller's message, and writes no agent.json", async () => {
    await h.freshController(
      (f) => (f.enroll = () => ({ status: 401, body: { error: { code: 'enrollment_token_used', message: 'this enrollment token was already used' } } })),
    );
    const stateDir = join(h.dir.path, 'refused');
    const err = await h.setup({}, stateDir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnrollError);
    expect((err as Error).message).toBe('enrollment refused by the controller (HTTP 401 enrollment_token_used): this enrollment token was already used');
    expect(h.fake.enrollRequests).toHaveLength(1);
    expect(await new StateStore(stateDir).readAgent()).toBeNull();
  });
});
