/**
 * A config that Caddy refuses while starting its listeners leaves the servers it had already started running
 * (Debian's 2.6.2: HTTP servers, caddyserver/caddy#7175; the layer4 build: layer4 servers), so the agent
 * restarts a managed Caddy after such a refusal. The next sync is not held back during that restart, and may
 * reach the new Caddy before its config is restored: refused there too, it leaks into the new process, whose
 * restart request used to be dropped because a restart was under way — the leaked listener then kept answering
 * with the refused config's routes (a deleted or moved stream still served) until the next Caddy restart.
 * Here that sync is played by a /load in onStarted, against a real Caddy of each flavor.
 */
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaddyLoadError } from '@caddyfleet/caddy';
import { ManagedCaddy } from '../apps/agent/src/caddy-process';
import { captureLogger } from '../apps/agent/test-support/fixtures';
import { caddyFlavors } from './helpers/caddy-bins';
import { freePort, tempDir, waitFor, type TempDir } from './helpers/processes';

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(2000);
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

for (const flavor of caddyFlavors()) {
  describe.skipIf(!flavor.bin)(`managed Caddy: a restart asked for during a restart (${flavor.label})`, () => {
    let dir: TempDir;
    let busy: Server;
    let busyPort = 0;
    let caddy: ManagedCaddy | null = null;

    beforeAll(async () => {
      dir = await tempDir('caddyfleet-restart-again-');
      busy = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      busyPort = (busy.address() as { port: number }).port;
    });

    afterAll(async () => {
      await caddy?.stop();
      await new Promise<void>((resolve) => (busy ? busy.close(() => resolve()) : resolve()));
      await dir?.cleanup();
    });

    it('restarts the new Caddy again when a refused load leaked listeners into it before its restore', async () => {
      const leakPort = await freePort();
      const logger = captureLogger();
      let injected = false;
      let refusal = '';
      let leakedIntoNewCaddy = false;
      let pidAfterFirst = 0;
      const managed: ManagedCaddy = new ManagedCaddy({
        bin: flavor.bin!,
        dir: join(dir.path, 'caddy'),
        log: logger.log,
        onStarted: async (restarted) => {
          if (!restarted || injected) return;
          injected = true;
          pidAfterFirst = managed.pid!;
          // One server, two addresses bound in order: the first binds, the second cannot, Caddy refuses the config
          // but keeps the first listening. (Two servers would not do: Caddy starts them in Go's random map order.)
          const config = {
            admin: { listen: managed.adminListen },
            apps: flavor.layer4
              ? { layer4: { servers: { a: { listen: [`tcp/127.0.0.1:${leakPort}`, `tcp/127.0.0.1:${busyPort}`], routes: [] } } } }
              : { http: { servers: { a: { listen: [`127.0.0.1:${leakPort}`, `127.0.0.1:${busyPort}`] } } } },
          };
          try {
            await managed.admin.load(JSON.stringify(config));
          } catch (err) {
            if (!(err instanceof CaddyLoadError)) throw err;
            refusal = err.message;
          }
          leakedIntoNewCaddy = await listening(leakPort);
          // What the agent's start-failure hook does with that refusal.
          void managed.restart(refusal);
        },
        onGiveUp: () => {},
        restartMinMs: 50,
        restartMaxMs: 200,
      });
      caddy = managed;
      await managed.start();
      const firstPid = managed.pid;

      await managed.restart('a refused config may have left listeners running');
      expect(refusal).toMatch(/address already in use/);
      // The premise: the refused config's first server kept listening in the Caddy the restart started.
      expect(leakedIntoNewCaddy).toBe(true);
      expect(pidAfterFirst).not.toBe(firstPid);

      await waitFor(async () => managed.restarts >= 2 && managed.pid !== pidAfterFirst && !(await listening(leakPort)), {
        timeoutMs: 20_000,
        description: 'the Caddy that took the refused load restarted, its leaked listener gone',
      });
      expect(managed.restarts).toBe(2);
      expect(managed.running).toBe(true);
      expect(await listening(leakPort)).toBe(false);
      expect(logger.text()).toContain('restarting Caddy');
    });
  });
}
