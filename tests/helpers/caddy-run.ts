/**
 * A bare `caddy run` for tests that drive Caddy's admin API themselves (the builder and stream tests): a fresh
 * temp dir as HOME and XDG dirs, nothing but an admin endpoint in the initial config, stopped by its PID.
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { CaddyAdmin } from '@caddyfleet/caddy';
import { sleep, spawnLogged, tempDir, type LoggedProcess, type TempDir } from './processes';

export interface RunningCaddy {
  proc: LoggedProcess;
  admin: CaddyAdmin;
  dir: TempDir;
}

/** Starts `caddy run` with nothing but an admin endpoint, in a fresh XDG home, and waits until it answers. */
export async function startCaddy(bin: string, adminListen: (dir: string) => string): Promise<RunningCaddy> {
  const dir = await tempDir('caddyfleet-caddy-');
  const listen = adminListen(dir.path);
  const configFile = join(dir.path, 'initial.json');
  await writeFile(configFile, JSON.stringify({ admin: { listen } }));
  const proc = spawnLogged(bin, ['run', '--config', configFile], {
    name: 'caddy',
    // Large enough to keep every line of a test file's run; the must-revalidate test counts log lines.
    maxBufferBytes: 8 * 1024 * 1024,
    env: { ...process.env, XDG_CONFIG_HOME: join(dir.path, 'config'), XDG_DATA_HOME: join(dir.path, 'data'), HOME: dir.path },
  });
  const admin = new CaddyAdmin(listen, { timeoutMs: 5000 });
  for (let i = 0; i < 50; i++) {
    if (proc.exitInfo()) break;
    if (await admin.ping()) return { proc, admin, dir };
    await sleep(100);
  }
  const why = proc.describe();
  await proc.stop();
  await dir.cleanup();
  throw new Error(`Caddy admin at ${listen} did not answer within 5 s\n${why}`);
}

export async function stopCaddy(caddy: RunningCaddy | undefined): Promise<void> {
  if (!caddy) return;
  await caddy.proc.stop();
  await caddy.dir.cleanup();
}

/**
 * `n` distinct free TCP ports on `host`, all bound at once before any is released: two freePort() calls in a row
 * can return the same port, and Caddy then refuses a config whose HTTP and HTTPS listeners coincide.
 */
export async function distinctFreePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => {
      const srv = createServer();
      return new Promise<Server>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ host, port: 0, exclusive: true }, () => resolve(srv));
      });
    }),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/** A free TCP port on `host` that is none of `not` (ports a Caddy may bind later, e.g. its HTTPS listener). */
export async function freePortExcept(not: number[], host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const [port] = await distinctFreePorts(1, host);
    if (port !== undefined && !not.includes(port)) return port;
  }
  throw new Error(`no free port on ${host} outside ${not.join(', ')}`);
}
