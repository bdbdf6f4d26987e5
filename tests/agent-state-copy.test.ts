/**
 * A state dir copied to another place (a restored backup, a cloned VM image with another layout) must not point
 * the new agent's Caddy at the old dir's admin socket. Real agents and a real managed Caddy; the controller is
 * unreachable (the agent serves from its state dir alone).
 */
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaddyAdmin } from '@caddyfleet/caddy';
import { loadAgentOptions, startAgent, type RunningAgent } from '@caddyfleet/agent';
import { captureLogger } from '../apps/agent/test-support/fixtures';
import { CADDY_BIN, requireCaddy } from './helpers/fleet-agent';
import { DEAD_TEXT, httpGet } from './helpers/http-probe';
import { freePort, tempDir, waitFor, type TempDir } from './helpers/processes';

describe.skipIf(!requireCaddy())('a copied state dir', () => {
  let dir: TempDir;
  let agent: RunningAgent | undefined;
  let http = 0;
  let https = 0;

  beforeAll(async () => {
    dir = await tempDir('cf-statecopy-');
    [http, https] = [await freePort(), await freePort()];
  });
  afterAll(async () => {
    await agent?.stop();
    await dir?.cleanup();
  });

  async function start(stateDir: string, logger = captureLogger()) {
    const opts = loadAgentOptions(
      { controller: `http://127.0.0.1:${await freePort()}`, stateDir, caddyBin: CADDY_BIN, httpListen: `127.0.0.1:${http}`, httpsListen: `127.0.0.1:${https}`, driftCheckSeconds: 0, reconnectMinMs: 1000, reconnectMaxMs: 5000 },
      {},
    );
    return startAgent(opts, { logger: logger.log, credentials: { nodeId: 'node_copy', agentKey: 'cfa_copy_key_0123456789abcdefghij' } });
  }
  const served = async () => (await httpGet('127.0.0.1', http, 'copy.test').catch(() => null))?.body.includes(DEAD_TEXT) === true;

  it('points Caddy at the copy, even with an applied.json written with absolute paths', async () => {
    const a = join(dir.path, 'a');
    agent = await start(a);
    await agent.localRoutes.add({ kind: 'dead', domains: ['copy.test'], tls: 'off' });
    await waitFor(served, { description: 'copy.test served from a' });
    await agent.stop();
    agent = undefined;
    // What older agents wrote: absolute paths into the original dir.
    const appliedA = join(a, 'applied.json');
    writeFileSync(appliedA, readFileSync(appliedA, 'utf8').split('$STATE_DIR').join(a));

    const b = join(dir.path, 'b');
    cpSync(a, b, { recursive: true, filter: (src) => !statSync(src).isSocket() });
    const logs = captureLogger();
    agent = await start(b, logs);
    await waitFor(served, { description: 'copy.test served from b' });
    expect(agent.status().caddy.adminListen).toBe(`unix/${b}/caddy/admin.sock`);
    const running = (await new CaddyAdmin(`unix/${b}/caddy/admin.sock`).getConfig()) as { admin: { listen: string }; storage: { root: string } };
    expect(running.admin.listen).toBe(`unix/${b}/caddy/admin.sock`);
    expect(running.storage.root).toBe(`${b}/caddy/data/caddy`);
    expect(existsSync(join(a, 'caddy', 'admin.sock')), "nothing listens in the original dir").toBe(false);
    expect(logs.text()).toContain('applied.json was written for another state dir');
    // applied.json is written in the background, after the apply.
    const appliedB = await waitFor(() => {
      const text = readFileSync(join(b, 'applied.json'), 'utf8');
      return text.includes('$STATE_DIR') && text;
    }, { description: 'applied.json rewritten for b' });
    expect(appliedB).not.toContain(a);
  });
});
