import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateDockerd, requireDocker } from './helpers/dockerd';
import { httpGet } from './helpers/http-probe';
import { pidAlive } from './helpers/processes';

const hasDocker = requireDocker();

describe.skipIf(!hasDocker)('tests/helpers/dockerd', () => {
  let d: PrivateDockerd;

  beforeAll(async () => {
    d = await PrivateDockerd.start();
  });
  afterAll(async () => {
    await d?.dispose();
  });

  it('runs a busybox httpd reachable on its network and on its published loopback port only', async () => {
    const c = await d.run({ name: 'probe', publish: [{ ip: '127.0.0.7', containerPort: 80 }], text: 'hello from probe' });
    const ip = c.ips['cfnet0']!;
    expect(ip.startsWith(d.subnet.prefix)).toBe(true);
    // The host holds the network's gateway, so the container address is on a link of ours.
    expect(execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' })).toContain(`${d.subnet.prefix}1/26`);
    expect((await httpGet(ip, 80, 'any')).body.trim()).toBe('hello from probe');
    expect((await httpGet('127.0.0.7', c.published[80]!, 'any')).body.trim()).toBe('hello from probe');
    const pid = (await d.docker.getContainer('probe').inspect()).State.Pid;
    const routes = execFileSync('nsenter', ['-t', String(pid), '-n', 'ip', '-4', 'route'], { encoding: 'utf8' });
    expect(routes).not.toMatch(/default/);
  });

  it('stops, starts and removes containers, and restarts the daemon on the same data root', async () => {
    await d.stopContainer('probe');
    expect((await d.docker.getContainer('probe').inspect()).State.Running).toBe(false);
    await d.startContainer('probe');
    expect((await d.docker.getContainer('probe').inspect()).State.Running).toBe(true);
    const before = d.pid!;
    await d.restartDaemon();
    expect(pidAlive(before)).toBe(false);
    const after = await d.docker.getContainer('probe').inspect();
    expect(after.State.Running).toBe(false);
    await d.removeContainer('probe');
    expect((await d.docker.listContainers({ all: true })).length).toBe(0);
  });

  it('leaves no daemon, bridge or lock behind', async () => {
    const pid = d.pid!;
    const lock = `/tmp/caddyfleet-test-subnets/10.200.${d.subnet.n}.lock`;
    expect(existsSync(lock)).toBe(true);
    await d.dispose();
    expect(pidAlive(pid)).toBe(false);
    expect(execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' })).not.toContain(d.subnet.prefix);
    expect(existsSync(lock)).toBe(false);
    expect(existsSync(d.dir.path)).toBe(false);
  });
});
