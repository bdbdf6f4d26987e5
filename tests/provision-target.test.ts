/**
 * SSH provisioning of a real Debian bookworm host (systemd in nspawn, its own veth link; see helpers/target-host),
 * by a real `caddyfleet server` process: first through the API as root with a key, then re-provisioned through
 * the CLI as a sudo user with a password and the controller's own Caddy binary (--caddy-artifact). Everything is
 * checked on the host itself: units and their hardening, UFW (a port that is not allowed really is unreachable),
 * fail2ban's sshd jail, sysctl values, config.env, users; then the node online and a route served by the host's
 * Caddy from an upstream inside the host; and no credential anywhere on the controller's disk or in its log.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { FleetNode, ProvisionJob, Route } from '@caddyfleet/protocol';
import { httpGet } from './helpers/http-probe';
import { isCI, waitFor } from './helpers/processes';
import { ensureAgentArtifact } from './helpers/agent-artifact';
import { ControllerProcess, ROOT, filesContaining, keyBody, runCli, tcpProbe } from './helpers/provisioning';
import { requireTargetHostSupport, startTargetHost, type TargetHost } from './helpers/target-host';

const hasTarget = requireTargetHostSupport();

/**
 * A Caddy with the layer4 module (stream routes), when one was built here (scripts/build-caddy.sh caches it under
 * ~/.cache/caddyfleet/caddy/); else the host's Debian Caddy, which serves no streams.
 */
function caddyArtifact(): { path: string; layer4: boolean } {
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'caddyfleet', 'caddy');
  const builds = existsSync(cache) ? readdirSync(cache).filter((d) => d.startsWith('caddy-') && d.includes('caddy-l4')).sort() : [];
  const found = builds.map((d) => join(cache, d, 'caddy')).filter((f) => existsSync(f)).pop();
  if (found) return { path: found, layer4: true };
  if (isCI() && existsSync(join(ROOT, 'scripts', 'build-caddy.sh'))) throw new Error('CI=true: no layer4 Caddy build found (scripts/build-caddy.sh)');
  return { path: '/usr/bin/caddy', layer4: false };
}
const CADDY = caddyArtifact();
const ROOT_PASSWORD = `root-${randomBytes(9).toString('hex')}`;
const OPS_PASSWORD = `ops-${randomBytes(9).toString('hex')}`;
const DOMAIN = 'app.provision.test';
const MARKER = `served-from-the-target-${randomBytes(4).toString('hex')}`;

const HARDENING: Record<string, string> = {
  NoNewPrivileges: 'yes',
  ProtectSystem: 'strict',
  ProtectHome: 'yes',
  PrivateTmp: 'yes',
  PrivateDevices: 'yes',
  ProtectKernelTunables: 'yes',
  ProtectKernelModules: 'yes',
  ProtectControlGroups: 'yes',
  RestrictNamespaces: 'yes',
  RestrictSUIDSGID: 'yes',
  LockPersonality: 'yes',
  CapabilityBoundingSet: 'cap_net_bind_service',
  User: 'caddyfleet-agent',
  ActiveState: 'active',
};

const SYSCTLS: Record<string, string> = {
  'net.ipv4.tcp_syncookies': '1',
  'net.ipv4.conf.all.rp_filter': '1',
  'net.ipv4.conf.all.accept_redirects': '0',
  'net.ipv4.conf.all.send_redirects': '0',
  'net.ipv4.conf.all.accept_source_route': '0',
  'net.ipv4.conf.all.log_martians': '1',
  'net.ipv4.icmp_echo_ignore_broadcasts': '1',
  'net.ipv6.conf.all.accept_redirects': '0',
};

async function sh(t: TargetHost, cmd: string): Promise<string> {
  const r = await t.exec(cmd, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`on the target: ${cmd}\nexit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function show(props: string): Record<string, string> {
  return Object.fromEntries(props.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Everything provisioning promises, checked on the host. */
async function assertProvisionedHost(t: TargetHost, job: ProvisionJob, agentKey: { nodeId: string; keyHash: string }): Promise<void> {
  expect(job.status, job.log.slice(-3000)).toBe('succeeded');
  expect(job.steps.map((s) => s.status)).toEqual(job.steps.map((s) => (s.name === 'sysctl' ? 'warning' : 'succeeded')));

  const unit = show(await sh(t, `systemctl show caddyfleet-agent.service ${Object.keys(HARDENING).map((p) => `-p ${p}`).join(' ')} -p SystemCallFilter`));
  for (const [k, v] of Object.entries(HARDENING)) expect(unit[k], k).toBe(v);
  expect(unit.SystemCallFilter!.split(' ').length).toBeGreaterThan(50);

  const ufw = await sh(t, 'ufw status verbose');
  expect(ufw).toContain('Status: active');
  expect(ufw).toMatch(/Default: deny \(incoming\)/);
  expect(ufw).toMatch(/^22\/tcp +ALLOW IN/m);
  expect(ufw).toMatch(/^80\/tcp +ALLOW IN/m);
  expect(ufw).toMatch(/^443\/tcp +ALLOW IN/m);

  // A port nobody allowed: something listens on it inside, yet from the host side nothing answers.
  await sh(t, 'systemctl is-active --quiet probe-8081 || systemd-run --unit=probe-8081 python3 -m http.server 8081 --bind 0.0.0.0');
  await waitFor(async () => (await t.exec('curl -fsS -o /dev/null http://127.0.0.1:8081/')).code === 0, { timeoutMs: 15_000, description: 'probe listener inside' });
  expect(await tcpProbe(t.address, 8081, 3000)).toBe('timeout');
  expect(await tcpProbe(t.address, 22, 3000)).toBe('open');

  const jail = await sh(t, 'fail2ban-client status sshd');
  expect(jail).toContain('Status for the jail: sshd');
  expect(jail).toContain('Journal matches');
  expect(await sh(t, 'systemctl is-active fail2ban')).toBe('active\n');
  expect(await sh(t, 'cat /etc/fail2ban/jail.d/caddyfleet.local')).toMatch(/backend = systemd[\s\S]*ignoreip = .*10\.200\./);

  for (const [k, v] of Object.entries(SYSCTLS)) expect((await sh(t, `sysctl -n ${k}`)).trim(), k).toBe(v);
  const sysctlStep = job.steps.find((s) => s.name === 'sysctl')!;
  expect(sysctlStep.message).toMatch(/refused .*kernel\.kptr_restrict/);

  expect(await sh(t, 'apt-config dump | grep -E "^APT::Periodic::(Update-Package-Lists|Unattended-Upgrade) "')).toMatch(/Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";/);

  expect((await sh(t, 'stat -c "%a %U %G" /etc/caddyfleet-agent/config.env')).trim()).toBe('600 caddyfleet-agent caddyfleet-agent');
  const config = await sh(t, 'cat /etc/caddyfleet-agent/config.env');
  expect(config).toContain(`CADDYFLEET_NODE_ID="${agentKey.nodeId}"`);
  const key = /CADDYFLEET_AGENT_KEY="(cfa_[A-Za-z0-9_-]+)"/.exec(config)?.[1];
  expect(key).toBeDefined();
  // The controller keeps only the key's SHA-256, as with enrollment.
  expect(createHash('sha256').update(key!).digest('hex')).toBe(agentKey.keyHash);
  // The key never appears in a process's arguments.
  const cmdlines = await sh(t, 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " <"$f" 2>/dev/null; echo; done');
  expect(cmdlines).toContain('/usr/local/bin/caddyfleet-agent run');
  expect(cmdlines).not.toContain(key!);

  expect(await sh(t, 'getent passwd caddy caddyfleet-agent | cut -d: -f1,7')).toMatch(/^caddy:\/usr\/sbin\/nologin\ncaddyfleet-agent:\/usr\/sbin\/nologin\n$/);
  expect(await sh(t, 'ls /tmp | grep -c caddyfleet-provision || true')).toBe('0\n');
}

describe.skipIf(!hasTarget)('SSH provisioning of a real Debian host', () => {
  let t: TargetHost;
  let ctl: ControllerProcess;
  let nodeId = '';
  let route: Route;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    ensureAgentArtifact();
    t = await startTargetHost({ rootPassword: ROOT_PASSWORD, users: [{ name: 'ops', password: OPS_PASSWORD, sudo: true }] });
    // The controller uploads the host's own Caddy binary as its artifact on re-provision (--caddy-artifact).
    ctl = await ControllerProcess.start(t.hostAddress, ['--caddy-artifact', CADDY.path]);
  }, 300_000);

  afterAll(async () => {
    if (timings.provision) console.info(`[provision-target] provisioning ${timings.provision} ms, re-provisioning ${timings.reprovision ?? '-'} ms`);
    await ctl?.dispose();
    await t?.stop();
  }, 300_000);

  it('provisions through the API as root with a key, and the host is hardened and online', async () => {
    const started = Date.now();
    const res = await ctl.api('POST', '/nodes/provision', { name: 'edge-api', siteId: ctl.siteId, ssh: { host: t.address, user: 'root', privateKey: t.privateKey } });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    nodeId = res.body.node.id;
    expect(res.body.node.status).toBe('provisioning');
    const job = await ctl.waitJob(nodeId);
    timings.provision = Date.now() - started;
    expect(job.hostKeySha256).toBe(t.hostKeySha256);
    // Both binaries were uploaded and checked against the controller's SHA-256.
    expect(job.log.match(/sha256 verified/g)).toHaveLength(2);
    const db = new Database(join(ctl.dataDir, 'caddyfleet.db'), { readonly: true, fileMustExist: true });
    const row = db.prepare('select agent_key_hash, ssh_host_key_sha256 from nodes where id = ?').get(nodeId) as { agent_key_hash: string; ssh_host_key_sha256: string };
    db.close();
    expect(row.ssh_host_key_sha256).toBe(t.hostKeySha256);
    await assertProvisionedHost(t, job, { nodeId, keyHash: row.agent_key_hash });
    const node = await ctl.node(nodeId);
    expect(node).toMatchObject({ status: 'online', lastError: null, caddyVersion: expect.stringMatching(/^v?2\./), agentVersion: expect.any(String), sshHostKeySha256: t.hostKeySha256 });
  }, 300_000);

  it("serves a route from the host's Caddy, with the upstream inside the host", async () => {
    await sh(t, `mkdir -p /srv/probe && echo ${MARKER} >/srv/probe/index.html && (systemctl is-active --quiet upstream-9000 || systemd-run --unit=upstream-9000 python3 -m http.server 9000 --bind 127.0.0.1 --directory /srv/probe)`);
    route = await ctl.ok<Route>('POST', '/routes', { kind: 'proxy', nodeId, domains: [DOMAIN], upstreams: [{ host: '127.0.0.1', port: 9000 }], tls: 'off' });
    const reply = await waitFor(
      async () => {
        const r = await httpGet(t.address, 80, DOMAIN).catch(() => null);
        return r && r.status === 200 && r.body.includes(MARKER) ? r : null;
      },
      { timeoutMs: 30_000, intervalMs: 250, description: `${DOMAIN} served on ${t.address}:80` },
    );
    expect(reply.body.trim()).toBe(MARKER);
  }, 300_000);

  it('keeps the stream ports file current for the firewall, and the firewall follows it', async () => {
    // The agent writes the file (as its own user); the root path unit opens what it lists and closes it again.
    expect((await sh(t, 'stat -c "%U %a" /var/lib/caddyfleet-agent/stream-ports')).trim()).toBe('caddyfleet-agent 600');
    await sh(t, "runuser -u caddyfleet-agent -- sh -c 'printf \"7443/tcp\\n\" >/var/lib/caddyfleet-agent/stream-ports.new && mv /var/lib/caddyfleet-agent/stream-ports.new /var/lib/caddyfleet-agent/stream-ports'");
    await waitFor(async () => /^7443\/tcp +ALLOW /m.test(await sh(t, 'ufw status')), { timeoutMs: 15_000, description: 'ufw opens 7443/tcp' });
    await sh(t, "runuser -u caddyfleet-agent -- sh -c ': >/var/lib/caddyfleet-agent/stream-ports.new && mv /var/lib/caddyfleet-agent/stream-ports.new /var/lib/caddyfleet-agent/stream-ports'");
    await waitFor(async () => !/^7443\/tcp/m.test(await sh(t, 'ufw status')), { timeoutMs: 15_000, description: 'ufw closes 7443/tcp' });
    expect(await sh(t, 'ufw status')).toMatch(/^22\/tcp +ALLOW /m);
  }, 300_000);

  it.skipIf(!CADDY.layer4)("opens a stream route's port in the firewall and serves it through the host's Caddy", async () => {
    expect(await tcpProbe(t.address, 7443, 2000)).toBe('timeout');
    const stream = await ctl.ok<Route>('POST', '/routes', { kind: 'stream', nodeId, listen: { port: 7443, protocol: 'tcp' }, upstreams: [{ host: '127.0.0.1', port: 9000 }] });
    await waitFor(async () => /^7443\/tcp +ALLOW /m.test(await sh(t, 'ufw status')), { timeoutMs: 20_000, description: 'ufw opens the stream port' });
    expect((await sh(t, 'cat /var/lib/caddyfleet-agent/stream-ports')).trim()).toBe('7443/tcp');
    const reply = await waitFor(async () => {
      const r = await httpGet(t.address, 7443, 'any').catch(() => null);
      return r?.status === 200 ? r : null;
    }, { timeoutMs: 20_000, description: 'the stream answers from outside' });
    expect(reply.body.trim()).toBe(MARKER);
    await ctl.ok('DELETE', `/routes/${stream.id}`);
    await waitFor(async () => !/^7443\/tcp/m.test(await sh(t, 'ufw status')), { timeoutMs: 20_000, description: 'ufw closes the stream port' });
    expect(await tcpProbe(t.address, 7443, 2000)).toBe('timeout');
  }, 300_000);

  it('re-provisions through the CLI as a sudo user with a password: same node, routes kept, binary from the controller', async () => {
    // Drift since the first run: an agent binary that is not the controller's, and hardening undone by hand.
    await sh(t, 'cp /usr/local/bin/caddyfleet-agent /tmp/old-agent && echo >>/tmp/old-agent && mv /tmp/old-agent /usr/local/bin/caddyfleet-agent');
    await sh(t, 'ufw --force disable && rm /etc/fail2ban/jail.d/caddyfleet.local && sysctl -q -w net.ipv4.conf.all.send_redirects=1');
    const started = Date.now();
    const r = await runCli(['nodes', 'reprovision', nodeId, '--ssh', `ops@${t.address}`, '--password-stdin'], ctl.cliEnv, `${OPS_PASSWORD}\n`);
    timings.reprovision = Date.now() - started;
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('==> [1/13] Connect over SSH');
    expect(r.stdout).toContain('commands run through sudo (with the login password)');
    // The agent binary is replaced by the controller's (checked by SHA-256); Caddy, already the controller's, is not sent again.
    expect(r.stdout).toContain('uploading caddyfleet-agent-linux-x64');
    expect(r.stdout.match(/sha256 verified/g)).toHaveLength(1);
    expect(r.stdout).toContain('/usr/local/bin/caddy is up to date');
    expect(r.stdout).toContain('the agent connected: the node is online');
    expect(r.stdout).not.toContain(OPS_PASSWORD);
    expect(r.stderr).toContain(`node ${nodeId} (edge-api) is online`);

    const job = await ctl.ok<ProvisionJob>('GET', `/nodes/${nodeId}/provisioning`);
    expect(job).toMatchObject({ kind: 'reprovision', status: 'succeeded', target: `ops@${t.address}:22` });
    const db = new Database(join(ctl.dataDir, 'caddyfleet.db'), { readonly: true, fileMustExist: true });
    const row = db.prepare('select agent_key_hash from nodes where id = ?').get(nodeId) as { agent_key_hash: string };
    db.close();
    await assertProvisionedHost(t, job, { nodeId, keyHash: row.agent_key_hash });
    expect((await sh(t, 'sha256sum /usr/local/bin/caddy')).split(' ')[0]).toBe(createHash('sha256').update(readFileSync(CADDY.path)).digest('hex'));
    expect(await sh(t, 'grep CADDYFLEET_CADDY_BIN /etc/caddyfleet-agent/config.env')).toContain('/usr/local/bin/caddy');

    const routes = await ctl.ok<Route[]>('GET', `/routes?nodeId=${nodeId}`);
    expect(routes.map((x) => x.id)).toEqual([route.id]);
    const node = await waitFor(async () => {
      const n = await ctl.node(nodeId);
      return n.status === 'online' && n.appliedRevision === n.desiredRevision ? n : null;
    }, { timeoutMs: 30_000, description: 'node online and in sync after re-provisioning' });
    expect(node.id).toBe(nodeId);
    const reply = await waitFor(async () => {
      const x = await httpGet(t.address, 80, DOMAIN).catch(() => null);
      return x?.status === 200 ? x : null;
    }, { timeoutMs: 30_000, description: 'route still served' });
    expect(reply.body.trim()).toBe(MARKER);
  }, 300_000);

  it('leaves no credential on the controller: not in its data dir, not in its log', async () => {
    const hits = filesContaining(ctl.dataDir, [ROOT_PASSWORD, OPS_PASSWORD, ...keyBody(t.privateKey)], [ctl.logFile]);
    expect(hits).toEqual([]);
    // The agent key the host holds is not on the controller either (only its hash).
    const key = /CADDYFLEET_AGENT_KEY="(cfa_[A-Za-z0-9_-]+)"/.exec(await sh(t, 'cat /etc/caddyfleet-agent/config.env'))![1]!;
    expect(filesContaining(ctl.dataDir, [key], [ctl.logFile])).toEqual([]);
    // The log did record the runs (so the search above searched something).
    expect(ctl.log()).toContain('provisioning succeeded');
  }, 300_000);

  it('delete keeps the route on the local node, and the uninstall commands it prints remove the agent', async () => {
    const r = await runCli(['nodes', 'rm', nodeId, '--json'], ctl.cliEnv);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { deleted: boolean; reassignedRoutes: Route[]; uninstall: string[] };
    expect(out.deleted).toBe(true);
    expect(out.reassignedRoutes.map((x) => [x.id, x.nodeId])).toEqual([[route.id, null]]);
    expect((await ctl.ok<Route>('GET', `/routes/${route.id}`)).nodeId).toBeNull();
    expect((await ctl.ok<FleetNode[]>('GET', '/nodes')).find((n) => n.id === nodeId)).toBeUndefined();
    for (const cmd of out.uninstall) await sh(t, cmd.replace(/^sudo /, ''));
    expect((await t.exec('systemctl is-active caddyfleet-agent')).stdout.trim()).not.toBe('active');
    expect((await t.exec('test -e /etc/caddyfleet-agent/config.env')).code).not.toBe(0);
    expect((await t.exec('systemctl is-enabled caddyfleet-firewall.path')).code).not.toBe(0);
  });
});
