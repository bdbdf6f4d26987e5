/**
 * A second host joins in one command (issue 7), for real: a Debian bookworm system booted with systemd in its own
 * network namespace, with no Node.js, runs the `command` the API returns for a new enrollment token — over SSH,
 * exactly as a user pastes it — and becomes an online node whose Caddy serves a route to an upstream inside it.
 * The controller listens on the host side of the target's link (10.200.N.1) and is given that as --public-url.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAgentArtifact } from './helpers/agent-artifact';
import { FleetController } from './helpers/fleet-controller';
import { httpGet } from './helpers/http-probe';
import { waitFor } from './helpers/processes';
import { describeTraffic, startTraffic } from './helpers/traffic';
import { requireTargetHostSupport, startTargetHost, type TargetHost } from './helpers/target-host';

const hasTarget = requireTargetHostSupport();
const UNIT = 'caddyfleet-agent';
/** The hardening the unit must show in `systemctl show` (what the running unit has, not just what its file says). */
const HARDENING: Record<string, string | RegExp> = {
  NoNewPrivileges: 'yes',
  ProtectSystem: 'strict',
  ProtectHome: 'yes',
  PrivateTmp: 'yes',
  CapabilityBoundingSet: 'cap_net_bind_service',
  SystemCallFilter: /\S/,
  User: UNIT,
};

describe.skipIf(!hasTarget)('a second host joins with the one-line installer', () => {
  let target: TargetHost;
  let ctl: FleetController;
  let command = '';
  let token = '';
  let nodeId = '';
  let installMs = 0;

  /**
   * Runs a line the way a terminal does: typed into a shell's stdin. (`ssh host 'line'` would show the whole line,
   * token included, as the argv of `bash -c`, which no user's paste does.)
   */
  const paste = (line: string) => target.exec('bash -s', { stdin: `${line}\n`, timeoutMs: 300_000 });

  beforeAll(async () => {
    const artifact = ensureAgentArtifact();
    target = await startTargetHost();
    ctl = await FleetController.start({ host: target.hostAddress, config: { agentArtifact: artifact } });
  }, 600_000);

  afterAll(async () => {
    await target?.stop();
    await ctl?.dispose();
  });

  it('returns the install command for a new enrollment token', async () => {
    const created = await ctl.api<{ token: string; command: string; publicUrl: string }>('POST', `/sites/${ctl.siteId}/enrollment-tokens`, {});
    expect(created.status).toBe(201);
    ({ token, command } = created.body);
    expect(created.body.publicUrl).toBe(ctl.url);
    expect(command).toContain(`${ctl.url}/install.sh`);
    // The token travels in the environment of `sh`, never as an argument.
    expect(command).not.toMatch(new RegExp(`\\s--token\\s+${token}`));
  });

  it('installs, enrolls and comes online with the pasted command; the token is in no argv', async () => {
    // A sampler of every process's argv while the installer runs (written to a file, read afterwards).
    await target.exec(`nohup sh -c 'for i in $(seq 1 1200); do cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "; echo; sleep 0.05; done' > /root/argv.log 2>&1 &`);
    const started = Date.now();
    const r = await paste(command);
    installMs = Date.now() - started;
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    console.log(`install on the target took ${installMs} ms`);
    expect(r.stdout).toMatch(/online/i);
    const argv = (await target.getFile('/root/argv.log')).toString('utf8');
    expect(argv.length).toBeGreaterThan(1000);
    expect(argv).not.toContain(token);

    const nodes = await ctl.api<{ id: string; status: string; caddyVersion: string | null; agentVersion: string | null; isLocal: boolean }[]>('GET', '/nodes');
    const joined = nodes.body.filter((n) => !n.isLocal);
    expect(joined).toHaveLength(1);
    nodeId = joined[0]!.id;
    const node = await waitFor(async () => {
      const n = (await ctl.api<{ status: string; caddyVersion: string | null; agentVersion: string | null }>('GET', `/nodes/${nodeId}`)).body;
      return n.status === 'online' && n.caddyVersion && n.agentVersion ? n : null;
    }, { timeoutMs: 30_000, description: 'node online with versions' });
    expect(node.caddyVersion).toMatch(/^v?2\./);
    expect(node.agentVersion).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('runs the agent as a hardened systemd unit with a private config', async () => {
    expect((await target.exec(`systemctl is-active ${UNIT}`)).stdout.trim()).toBe('active');
    const show = await target.exec(`systemctl show ${UNIT} -p ${Object.keys(HARDENING).join(' -p ')}`);
    const props = Object.fromEntries(show.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    for (const [k, want] of Object.entries(HARDENING)) {
      if (typeof want === 'string') expect(props[k], k).toBe(want);
      else expect(props[k], k).toMatch(want);
    }
    const stat = await target.exec('stat -c "%a %U" /etc/caddyfleet-agent/config.env');
    expect(stat.stdout.trim()).toBe(`600 ${UNIT}`);
    expect((await target.exec(`getent passwd ${UNIT}`)).stdout).toMatch(/:\/usr\/sbin\/nologin$/m);
    expect((await target.exec('grep -c cfe_ /etc/caddyfleet-agent/config.env || true')).stdout.trim()).toBe('0');
    expect((await target.exec('command -v node || true')).stdout.trim()).toBe('');
  });

  it("serves a route on the target's address, to an upstream inside the target", async () => {
    await target.exec('mkdir -p /srv/up && echo "hello from the target" > /srv/up/index.html');
    const up = await target.exec('systemd-run --unit=test-upstream /usr/bin/caddy file-server --listen 127.0.0.1:9000 --root /srv/up');
    expect(up.code, up.stderr).toBe(0);
    const created = await ctl.api('POST', '/routes', {
      kind: 'proxy',
      nodeId,
      domains: ['app.join.test'],
      upstreams: [{ host: '127.0.0.1', port: 9000 }],
      tls: 'off',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const reply = await waitFor(async () => {
      const res = await httpGet(target.address, 80, 'app.join.test').catch(() => null);
      return res?.status === 200 ? res : null;
    }, { timeoutMs: 20_000, description: 'route served by the target' });
    expect(reply.body.trim()).toBe('hello from the target');
  });

  it('running the installer again upgrades in place, keeps the node and serves throughout', async () => {
    // Requests through the target's Caddy while the installer replaces the binary and restarts the unit.
    const traffic = startTraffic({ ip: target.address, port: 80, host: 'app.join.test', ok: (res) => res.body.trim() === 'hello from the target', maxMs: 60_000 });
    const r = await paste(command);
    const report = await traffic.stop();
    console.log(describeTraffic('re-install (systemctl restart of the agent)', report));
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/already enrolled/i);
    expect(report.exhausted).toBe(false);
    expect(report.failed, report.samples.join('\n')).toBe(0);
    const nodes = (await ctl.api<{ id: string; isLocal: boolean }[]>('GET', '/nodes')).body.filter((n) => !n.isLocal);
    expect(nodes.map((n) => n.id)).toEqual([nodeId]);
    await waitFor(async () => (await ctl.api<{ status: string }>('GET', `/nodes/${nodeId}`)).body.status === 'online', { timeoutMs: 30_000, description: 'online again' });
    expect((await httpGet(target.address, 80, 'app.join.test')).body.trim()).toBe('hello from the target');
  });

  it('restarting the agent unit under traffic refuses no connection (it adopts its Caddy)', async () => {
    const caddyPid = async () => (await target.exec(`cat /var/lib/${UNIT}/caddy/caddy.pid`)).stdout.trim();
    const before = await caddyPid();
    const traffic = startTraffic({ ip: target.address, port: 80, host: 'app.join.test', ok: (res) => res.body.trim() === 'hello from the target', maxMs: 30_000 });
    const restarted = await target.exec(`systemctl restart ${UNIT}`);
    await waitFor(async () => (await target.exec(`systemctl is-active ${UNIT}`)).stdout.trim() === 'active', { timeoutMs: 20_000, description: 'unit active' });
    await waitFor(async () => (await ctl.api<{ status: string }>('GET', `/nodes/${nodeId}`)).body.status === 'online', { timeoutMs: 30_000, description: 'online again' });
    const report = await traffic.stop();
    console.log(describeTraffic('systemctl restart caddyfleet-agent', report));
    expect(restarted.code, restarted.stderr).toBe(0);
    expect(report.failed, report.samples.join('\n')).toBe(0);
    expect(await caddyPid()).toBe(before);
  });

  it('uninstall removes the unit and the agent', async () => {
    const r = await target.exec(`/usr/local/bin/${UNIT} uninstall`, { timeoutMs: 120_000 });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    // Its Caddy is stopped too: nothing answers on the target's port 80 any more.
    await waitFor(async () => (await httpGet(target.address, 80, 'app.join.test', '/', 1000).then(() => false, () => true)), { timeoutMs: 15_000, description: 'port 80 closed' });
    expect((await target.exec(`systemctl cat ${UNIT}`)).code).not.toBe(0);
    expect((await target.exec(`test -e /usr/local/bin/${UNIT} || test -e /etc/caddyfleet-agent; echo $?`)).stdout.trim()).toBe('1');
    await waitFor(async () => (await ctl.api<{ status: string }>('GET', `/nodes/${nodeId}`)).body.status === 'offline', { timeoutMs: 30_000, description: 'offline after uninstall' });
  });
});
