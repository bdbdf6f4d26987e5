/**
 * The served /install.sh, run for real by /bin/sh against a real controller: download, checksum, and how it
 * hands over the token and the arguments. The controller serves a recording stand-in instead of the agent
 * (`--agent-artifact`), because the real `caddyfleet-agent install` would change this machine; the stand-in
 * writes down its argv, its environment and its stdin.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startController, type RunningController } from '../apps/controller/src/index';
import { renderInstallScript } from '../apps/controller/src/http/install-script';
import { tempDir, type TempDir } from './helpers/processes';

const TOKEN = 'cfe_installScriptTestToken_0123456789abcdef';

const RECORDER = `#!/bin/sh
if [ "$1" = --version ]; then echo 0.0.0-recorder; exit 0; fi
printf '%s\\n' "$@" > "$RECORD_DIR/argv"
env > "$RECORD_DIR/env"
cat > "$RECORD_DIR/stdin"
echo "recorder: install ran"
exit 7
`;

/** Like spawnSync with `input`, but leaves the event loop free for the in-process controller the script talks to. */
function runWithInput(cmd: string, args: string[], input: string, env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

describe('install.sh', () => {
  let dir: TempDir;
  let controller: RunningController;
  let record: string;

  /** Fetches /install.sh from `base` and runs it with sh, like `curl … | sh -s -- ARGS`. */
  async function runScript(base: string, args: string[], env: Record<string, string> = {}, uid?: number) {
    const script = await (await fetch(`${base}/install.sh`)).text();
    await rm(record, { recursive: true, force: true });
    await mkdir(record, { mode: 0o777 });
    await chmod(record, 0o777);
    const fullEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', TMPDIR: dir.path, RECORD_DIR: record, ...env };
    const sh = uid === undefined ? ['/bin/sh', ['-s', '--', ...args]] as const : ['/usr/bin/setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '/bin/sh', '-s', '--', ...args]] as const;
    return runWithInput(sh[0], [...sh[1]], script, fullEnv);
  }

  const recorded = async (name: string) => readFile(join(record, name), 'utf8');

  beforeAll(async () => {
    dir = await tempDir('caddyfleet-install-sh-');
    await chmod(dir.path, 0o755);
    record = join(dir.path, 'record');
    const artifact = join(dir.path, 'recorder.sh');
    await writeFile(artifact, RECORDER, { mode: 0o755 });
    const config = loadConfig('server', { listen: '127.0.0.1:0', dataDir: join(dir.path, 'ctl'), adminPassword: 'install-sh-admin-password', logLevel: 'silent', agentArtifact: artifact }, {});
    controller = await startController(config, { announce: () => {} });
  });

  afterAll(async () => {
    await controller?.close();
    await dir?.cleanup();
  });

  it('verifies the download and passes the token on stdin, never in argv or the environment', async () => {
    const r = await runScript(controller.url, ['--name', 'edge 1', '--http-listen', ':8080'], { CADDYFLEET_ENROLLMENT_TOKEN: TOKEN });
    expect(r.stderr).toContain('caddyfleet install: caddyfleet-agent 0.0.0-recorder, checksum verified');
    expect(r.stdout).toContain('recorder: install ran');
    // The installer's exit status is the agent's.
    expect(r.status).toBe(7);
    expect((await recorded('argv')).split('\n')).toEqual(['install', '--controller', controller.url, '--token-stdin', '--name', 'edge 1', '--http-listen', ':8080', '']);
    expect(await recorded('stdin')).toBe(`${TOKEN}\n`);
    expect(await recorded('env')).not.toContain(TOKEN);
    // The download's temporary directory is gone.
    expect((await readdir(dir.path)).filter((f) => f.startsWith('caddyfleet-agent.'))).toEqual([]);
  });

  it('takes --token out of the arguments, with a warning', async () => {
    const r = await runScript(controller.url, ['--token', TOKEN, '--https-listen', ':8443']);
    expect(r.status).toBe(7);
    expect(r.stderr).toContain('warning: --token is visible in the process list');
    expect((await recorded('argv')).split('\n')).toEqual(['install', '--controller', controller.url, '--token-stdin', '--https-listen', ':8443', '']);
    expect(await recorded('stdin')).toBe(`${TOKEN}\n`);
  });

  it('without a token, runs install without one (an enrolled host is upgraded)', async () => {
    const r = await runScript(controller.url, []);
    expect(r.status).toBe(7);
    expect((await recorded('argv')).split('\n')).toEqual(['install', '--controller', controller.url, '']);
    expect(await recorded('stdin')).toBe('');
  });

  it('refuses to run as a user other than root', async () => {
    const r = await runScript(controller.url, [], { CADDYFLEET_ENROLLMENT_TOKEN: TOKEN }, 65534);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('caddyfleet install: error: run this as root');
  });

  it('stops on a checksum mismatch or a failed download, running nothing', async () => {
    // A server that serves the script, a file and a checksum that does not match it.
    const server = http.createServer((req, res) => {
      if (req.url === '/install.sh') return res.end(renderInstallScript(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
      if (req.url?.endsWith('.sha256')) return res.end(`${'0'.repeat(64)}  caddyfleet-agent-linux-x64\n`);
      if (req.url === '/downloads/caddyfleet-agent-linux-x64') return res.end(RECORDER);
      res.statusCode = 404;
      res.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const r = await runScript(base, [], { CADDYFLEET_ENROLLMENT_TOKEN: TOKEN });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/error: checksum mismatch for caddyfleet-agent-linux-x64: expected 0{64}, got [0-9a-f]{64}/);
      await expect(recorded('argv')).rejects.toThrow(/ENOENT/);
    } finally {
      server.closeAllConnections();
      server.close();
    }

    const missing = await startController(
      loadConfig('server', { listen: '127.0.0.1:0', dataDir: join(dir.path, 'ctl2'), adminPassword: 'install-sh-admin-password', logLevel: 'silent', agentArtifact: join(dir.path, 'nothing') }, {}),
      { announce: () => {} },
    );
    try {
      const r = await runScript(missing.url, [], { CADDYFLEET_ENROLLMENT_TOKEN: TOKEN });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`error: downloading ${missing.url}/downloads/caddyfleet-agent-linux-x64.sha256 failed`);
    } finally {
      await missing.close();
    }
  });
});
