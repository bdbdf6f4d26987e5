/**
 * Prepares a target's root (the overlay, before boot) for ./target-host.ts: host keys, root's client key, the unit
 * that configures the test link inside, passwords, extra users and files. Writes go through chroot so that
 * symlinks in the image resolve inside the target, never on the host.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TargetHostOptions } from './target-host';
import { runOk, type Slot } from './target-host-system';
import { publicKeyLineFingerprint } from './target-host-ssh';

/** Writes a file inside the (not yet booted) root through chroot, so symlinks resolve inside the target. */
async function writeInRoot(root: string, path: string, content: string | Buffer, mode: number): Promise<void> {
  if (!path.startsWith('/') || path.includes('\0')) throw new Error(`target file path must be absolute: ${path}`);
  const script = 'mkdir -p "$(dirname "$1")" && rm -f "$1" && cat >"$1" && chmod "$2" "$1"';
  await runOk('chroot', [root, '/bin/sh', '-c', script, 'sh', path, mode.toString(8)], { input: content });
}

function networkUnit(slot: Slot): string {
  return [
    '[Unit]',
    'Description=caddyfleet test link',
    'DefaultDependencies=no',
    'Before=network.target ssh.service',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    `ExecStart=/usr/sbin/ip link set dev ${slot.targetIf} up`,
    `ExecStart=/usr/sbin/ip addr add ${slot.address}/24 dev ${slot.targetIf}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

export async function prepareRoot(root: string, dir: string, slot: Slot, opts: TargetHostOptions): Promise<{ privateKey: string; publicKey: string }> {
  await runOk('ssh-keygen', ['-A', '-f', root]);
  const keyPath = join(dir, 'id_ed25519');
  await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `caddyfleet-test@${slot.hostIf}`, '-f', keyPath]);
  const publicKey = await readFile(`${keyPath}.pub`, 'utf8');
  await writeInRoot(root, '/root/.ssh/authorized_keys', publicKey, 0o600);
  await runOk('chroot', [root, 'chmod', '0700', '/root/.ssh']);
  await writeInRoot(root, '/etc/systemd/system/caddyfleet-test-link.service', networkUnit(slot), 0o644);
  await runOk('chroot', [
    root,
    'ln',
    '-sf',
    '/etc/systemd/system/caddyfleet-test-link.service',
    '/etc/systemd/system/multi-user.target.wants/caddyfleet-test-link.service',
  ]);
  const passwords: string[] = [];
  if (opts.rootPassword !== undefined) passwords.push(`root:${opts.rootPassword}`);
  for (const u of opts.users ?? []) {
    if (!/^[a-z_][a-z0-9_-]{0,30}$/.test(u.name)) throw new Error(`bad user name: ${u.name}`);
    await runOk('chroot', [root, 'useradd', '--create-home', '--shell', '/bin/bash', ...(u.sudo ? ['--groups', 'sudo'] : []), u.name]);
    passwords.push(`${u.name}:${u.password}`);
  }
  for (const line of passwords) {
    if (line.includes('\n')) throw new Error('passwords cannot contain a newline');
  }
  if (passwords.length) await runOk('chroot', [root, 'chpasswd'], { input: `${passwords.join('\n')}\n` });
  for (const [path, file] of Object.entries(opts.files ?? {})) {
    const { content, mode } = typeof file === 'string' || Buffer.isBuffer(file) ? { content: file, mode: 0o644 } : { mode: 0o644, ...file };
    await writeInRoot(root, path, content, mode);
  }
  return { privateKey: await readFile(keyPath, 'utf8'), publicKey: publicKey.trim() };
}

export function readHostKeys(root: string): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const f of readdirSync(join(root, 'etc/ssh')).filter((n) => /^ssh_host_.*_key\.pub$/.test(n))) {
    const { type, fingerprint } = publicKeyLineFingerprint(readFileSync(join(root, 'etc/ssh', f), 'utf8'));
    keys[type] = fingerprint;
  }
  if (!keys['ssh-ed25519']) throw new Error(`no ed25519 host key in ${root}/etc/ssh`);
  return keys;
}
