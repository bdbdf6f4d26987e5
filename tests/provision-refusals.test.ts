/**
 * What SSH provisioning refuses, on real hosts: a wrong password fails at `connect` with a clear message (node
 * `error`) and a retry through the CLI with a key succeeds on the same node; a host whose key changed is
 * refused before anything is sent; a host that is not Debian/Ubuntu (a fake /etc/os-release) is refused
 * before anything on it changes.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAgentArtifact } from './helpers/agent-artifact';
import { ControllerProcess, runCli } from './helpers/provisioning';
import { requireTargetHostSupport, startTargetHost, type TargetHost } from './helpers/target-host';

const hasTarget = requireTargetHostSupport();
const ROOT_PASSWORD = `root-${randomBytes(9).toString('hex')}`;
const FAKE_OS_RELEASE = 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=40\nPRETTY_NAME="Fedora Linux 40"\n';

/** What the provisioner would have changed first, listed so that "nothing changed" can be compared. */
const FOOTPRINT =
  'ls -la /usr/local/bin; getent passwd caddyfleet-agent caddy || true; ls /etc/caddyfleet-agent 2>&1; ls /tmp; dpkg -l ufw fail2ban caddy 2>&1 | tail -n 3; ls /etc/sysctl.d';

describe.skipIf(!hasTarget)('SSH provisioning refusals on real hosts', () => {
  let debian: TargetHost;
  let fedora: TargetHost;
  let ctlA: ControllerProcess;
  let ctlB: ControllerProcess;

  beforeAll(async () => {
    ensureAgentArtifact();
    [debian, fedora] = await Promise.all([
      startTargetHost({ rootPassword: ROOT_PASSWORD }),
      startTargetHost({ rootPassword: ROOT_PASSWORD, files: { '/etc/os-release': FAKE_OS_RELEASE } }),
    ]);
    [ctlA, ctlB] = await Promise.all([ControllerProcess.start(debian.hostAddress), ControllerProcess.start(fedora.hostAddress)]);
  }, 300_000);

  afterAll(async () => {
    await Promise.all([ctlA?.dispose(), ctlB?.dispose()]);
    await Promise.all([debian?.stop(), fedora?.stop()]);
  }, 300_000);

  it('a wrong password fails at connect with a clear message; a retry with a key fixes the same node', async () => {
    const started = await ctlA.ok('POST', '/nodes/provision', { name: 'edge-pw', siteId: ctlA.siteId, ssh: { host: debian.address, user: 'root', password: 'not-the-password' } });
    const nodeId: string = started.node.id;
    const failed = await ctlA.waitJob(nodeId, 60_000);
    expect(failed.status).toBe('failed');
    expect(failed.steps[0]).toMatchObject({ name: 'connect', status: 'failed', message: `SSH authentication failed for root@${debian.address}:22: the password was rejected` });
    const node = await ctlA.node(nodeId);
    expect(node.status).toBe('error');
    expect(node.lastError).toContain('provisioning failed at connect: SSH authentication failed');
    expect(node.lastError).not.toContain('not-the-password');

    // The same node, provisioned through the CLI with the key this time.
    const r = await runCli(['nodes', 'reprovision', nodeId, '--ssh', `root@${debian.address}:22`, '--identity', debian.privateKeyPath], ctlA.cliEnv);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('the agent connected: the node is online');
    expect(await ctlA.node(nodeId)).toMatchObject({ id: nodeId, status: 'online', lastError: null });
    expect((await debian.exec('systemctl is-active caddyfleet-agent')).stdout.trim()).toBe('active');
  }, 300_000);

  it('a host whose key changed is refused before anything is sent, and the node says why', async () => {
    const nodes = await ctlA.ok<{ id: string; sshHostKeySha256: string | null }[]>('GET', '/nodes');
    const node = nodes.find((n) => n.sshHostKeySha256 !== null)!;
    expect(node.sshHostKeySha256).toBe(debian.hostKeySha256);
    const before = (await debian.exec(FOOTPRINT)).stdout;
    const oldKey = debian.hostKeySha256;
    const newKey = await debian.regenerateHostKeys();

    const r = await runCli(['nodes', 'reprovision', node.id, '--ssh', `root@${debian.address}`, '--password-stdin'], ctlA.cliEnv, `${ROOT_PASSWORD}\n`);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`host key mismatch: ${debian.address}:22 presented ${newKey}, but the key stored when this node was first provisioned is ${oldKey}`);
    expect(r.stderr).toMatch(/provisioning of node .* failed: connect: host key mismatch/);
    expect((await ctlA.node(node.id)).status).toBe('error');
    expect((await debian.exec(FOOTPRINT)).stdout).toBe(before);

    // Given the new key explicitly (the operator checked it), the run goes through.
    const ok = await runCli(['nodes', 'reprovision', node.id, '--ssh', `root@${debian.address}`, '--password-stdin', '--host-key', newKey], ctlA.cliEnv, `${ROOT_PASSWORD}\n`);
    expect(ok.code, `${ok.stdout}\n${ok.stderr}`).toBe(0);
    expect((await ctlA.node(node.id)).sshHostKeySha256).toBe(newKey);
  }, 300_000);

  it('a host that is not Debian or Ubuntu is refused before anything on it changes', async () => {
    const before = (await fedora.exec(FOOTPRINT)).stdout;
    const r = await runCli(['nodes', 'provision', '--name', 'edge-fedora', '--site', ctlB.siteId, '--ssh', `root@${fedora.address}`, '--password-stdin'], ctlB.cliEnv, `${ROOT_PASSWORD}\n`);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('unsupported operating system: Fedora Linux 40 (ID=fedora)');
    expect(r.stderr).toMatch(/failed: check-os: unsupported operating system: Fedora Linux 40 \(ID=fedora\)\. caddyfleet provisions Debian and Ubuntu hosts only; nothing was changed on the host\./);
    const node = (await ctlB.ok<{ id: string; name: string; status: string }[]>('GET', '/nodes')).find((n) => n.name === 'edge-fedora')!;
    expect(node.status).toBe('error');
    const job = await ctlB.ok('GET', `/nodes/${node.id}/provisioning`);
    expect(job.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`).slice(0, 3)).toEqual(['connect:succeeded', 'check-os:failed', 'caddy:skipped']);
    expect((await fedora.exec(FOOTPRINT)).stdout).toBe(before);
  });
});
