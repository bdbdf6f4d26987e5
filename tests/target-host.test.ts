import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet } from './helpers/http-probe';
import { tempDir, waitFor, type TempDir } from './helpers/processes';
import { requireTargetHostSupport, sshConnect, startTargetHost, type TargetHost } from './helpers/target-host';
import { linkExists, mountsUnder, run } from './helpers/target-host-system';

const hasTarget = requireTargetHostSupport();
const ROOT_PASSWORD = `root-${randomBytes(9).toString('hex')}`;
const OPS_PASSWORD = `ops-${randomBytes(9).toString('hex')}`;
const FAKE_OS_RELEASE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.0\n';

describe.skipIf(!hasTarget)('tests/helpers/target-host: a real Debian host booted with systemd-nspawn', () => {
  let a: TargetHost | undefined;
  let b: TargetHost | undefined;
  let tmp: TempDir;

  beforeAll(async () => {
    tmp = await tempDir('caddyfleet-target-test-');
    // Two at once: parallel boots must get different subnets.
    [a, b] = await Promise.all([
      startTargetHost({ rootPassword: ROOT_PASSWORD, users: [{ name: 'ops', password: OPS_PASSWORD, sudo: true }] }),
      startTargetHost({ files: { '/etc/os-release': FAKE_OS_RELEASE, '/opt/marker': { content: 'secret\n', mode: 0o600 } } }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await tmp?.cleanup();
  });

  it('runs systemd as PID 1 and reaches running (or degraded)', async () => {
    const t = a!;
    expect((await t.exec('ps -p 1 -o comm=')).stdout.trim()).toBe('systemd');
    const state = await t.exec('timeout 60 systemctl is-system-running --wait', { timeoutMs: 70_000 });
    expect(['running', 'degraded'], `${state.stdout}${state.stderr}`).toContain(state.stdout.trim());
    expect((await t.exec('systemctl is-active ssh')).stdout.trim()).toBe('active');
  });

  it('has no Node.js', async () => {
    const r = await a!.exec('command -v node || command -v nodejs || ls /usr/bin/node');
    expect(r.code, r.stdout).not.toBe(0);
    expect(r.stdout.trim()).toBe('');
  });

  it('sits on its own link: 10.200.N.2 inside, 10.200.N.1 on the host, no default route, reaches the host', async () => {
    for (const t of [a!, b!]) {
      const m = /^10\.200\.(\d+)\.2$/.exec(t.address);
      expect(m, t.address).not.toBeNull();
      expect(t.hostAddress).toBe(`10.200.${m![1]}.1`);
      expect(t.subnet).toBe(`10.200.${m![1]}.0/24`);
      expect((await t.exec('ip -4 -o addr show')).stdout).toContain(`inet ${t.address}/24`);
      expect((await t.exec('ip route show default')).stdout.trim()).toBe('');
      expect((await run('ip', ['-4', '-o', 'addr', 'show', 'dev', `cfth${m![1]}`])).stdout).toContain(`inet ${t.hostAddress}/24`);
    }
    expect(a!.subnet).not.toBe(b!.subnet);

    // What an installer does: fetch from a server on the host side of the link.
    const token = randomBytes(8).toString('hex');
    const server: Server = createServer((_req, res) => res.end(token));
    await new Promise<void>((resolve) => server.listen(0, a!.hostAddress, resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const r = await a!.exec(`curl -fsS --max-time 5 http://${a!.hostAddress}:${port}/`);
      expect(r.stdout, r.stderr).toBe(token);
    } finally {
      server.close();
    }
  });

  it('installs caddy offline from the pre-downloaded packages, and serves on its address', async () => {
    const t = a!;
    const install = await t.exec('DEBIAN_FRONTEND=noninteractive apt-get install -y caddy', { timeoutMs: 120_000 });
    expect(install.code, `${install.stdout}\n${install.stderr}`).toBe(0);
    expect(install.stdout).not.toMatch(/^Get:/m);
    const version = await t.exec('caddy version');
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/\d+\.\d+\.\d+/);
    await waitFor(async () => (await t.exec('systemctl is-active caddy')).stdout.trim() === 'active', {
      timeoutMs: 20_000,
      description: 'caddy.service active',
    });
    const reply = await waitFor(() => httpGet(t.address, 80, t.address), { timeoutMs: 10_000, intervalMs: 250, description: 'caddy answers on :80' });
    expect(reply.status).toBe(200);
  });

  it('copies files both ways over SFTP, with the mode asked for', async () => {
    const t = a!;
    const data = randomBytes(200_000);
    await t.putFile('/root/blob.bin', data, 0o640);
    expect((await t.exec('stat -c %a /root/blob.bin')).stdout.trim()).toBe('640');
    expect((await t.exec('sha256sum /root/blob.bin')).stdout.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
    expect((await t.getFile('/root/blob.bin')).equals(data)).toBe(true);

    const local = join(tmp.path, 'script.sh');
    await writeFile(local, '#!/bin/sh\necho from-local-file\n');
    await t.putFile('/usr/local/bin/hello', { localPath: local }, 0o755);
    expect((await t.exec('hello')).stdout.trim()).toBe('from-local-file');
  });

  it('presents the host key it reports, and a wrong expected key is refused', async () => {
    const t = a!;
    const { client, hostKeySha256 } = await sshConnect({ host: t.address, port: t.sshPort, username: 'root', privateKey: t.privateKey });
    client.end();
    expect(hostKeySha256).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(hostKeySha256).toBe(t.hostKeySha256);
    const inside = await t.exec('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub');
    expect(inside.stdout.split(' ')[1]).toBe(t.hostKeySha256);
    expect(t.hostKeySha256).not.toBe(b!.hostKeySha256);
    await expect(
      sshConnect({ host: t.address, port: t.sshPort, username: 'root', privateKey: t.privateKey, hostKeySha256: b!.hostKeySha256 }),
    ).rejects.toThrow(/host key of .* is SHA256:/);
  });

  it('accepts root and a sudo user by password, and refuses a wrong one', async () => {
    const t = a!;
    expect((await t.execAsUserPassword('root', ROOT_PASSWORD, 'id -u')).stdout.trim()).toBe('0');
    const sudo = await t.execAsUserPassword('ops', OPS_PASSWORD, 'id -un && sudo -S -p "" id -u', { stdin: `${OPS_PASSWORD}\n` });
    expect(sudo.stdout.trim().split('\n'), sudo.stderr).toEqual(['ops', '0']);
    await expect(t.execAsUserPassword('root', 'wrong-password', 'true')).rejects.toThrow(/authentication/i);
    await expect(b!.execAsUserPassword('root', ROOT_PASSWORD, 'true')).rejects.toThrow(/authentication/i);
  });

  it('writes requested files before boot (a fake os-release replaces the symlink)', async () => {
    expect((await b!.exec('. /etc/os-release && echo "$ID $VERSION_ID"')).stdout.trim()).toBe('alpine 3.20.0');
    expect((await b!.getFile('/etc/os-release')).toString()).toBe(FAKE_OS_RELEASE);
    expect((await b!.exec('stat -c %a /opt/marker && cat /opt/marker')).stdout).toBe('600\nsecret\n');
    expect((await a!.exec('. /etc/os-release && echo "$ID $VERSION_ID"')).stdout.trim()).toBe('debian 12');
  });

  it('regenerates its host keys on request', async () => {
    const t = b!;
    const before = t.hostKeySha256;
    const after = await t.regenerateHostKeys();
    expect(after).not.toBe(before);
    expect(t.hostKeySha256).toBe(after);
    expect((await t.exec('echo ok')).stdout.trim()).toBe('ok');
    await expect(
      sshConnect({ host: t.address, port: t.sshPort, username: 'root', privateKey: t.privateKey, hostKeySha256: before }),
    ).rejects.toThrow(/host key/);
  });

  it('stop() powers off and leaves no veth, mount or temp dir behind; a second stop() is a no-op', async () => {
    for (const t of [a!, b!]) {
      const hostIf = `cfth${t.address.split('.')[2]}`;
      const dir = dirname(t.rootDir);
      expect(linkExists(hostIf)).toBe(true);
      await t.stop();
      expect(linkExists(hostIf)).toBe(false);
      expect(mountsUnder(dir)).toEqual([]);
      expect(existsSync(dir)).toBe(false);
      await t.stop();
    }
  });
});
