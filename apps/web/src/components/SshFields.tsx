import type { FieldErrors } from '../lib/zodErrors';
import { Field } from './Field';

export interface SshForm {
  host: string;
  port: string;
  user: string;
  auth: 'password' | 'key';
  password: string;
  privateKey: string;
  passphrase: string;
  hostKey: string;
}

export const EMPTY_SSH: SshForm = { host: '', port: '22', user: 'root', auth: 'password', password: '', privateKey: '', passphrase: '', hostKey: '' };

/** The `ssh` part of a provisioning body (validated by the caller with the protocol schema). */
export function sshBody(f: SshForm): Record<string, unknown> {
  const port = Number(f.port);
  const body: Record<string, unknown> = { host: f.host.trim(), port: f.port.trim() === '' ? 22 : Number.isFinite(port) ? port : f.port, user: f.user.trim() };
  if (f.auth === 'password') body.password = f.password;
  else {
    body.privateKey = f.privateKey;
    if (f.passphrase) body.passphrase = f.passphrase;
  }
  return body;
}

/** Host, port, user, password or private key (+ passphrase), expected host key: the SSH login of a provisioning run. */
export function SshFields({ form, set, errors, lockTarget = false }: { form: SshForm; set: (patch: Partial<SshForm>) => void; errors: FieldErrors; lockTarget?: boolean }) {
  const e = (k: string) => errors[`ssh.${k}`];
  return (
    <>
      <div className="field-row">
        <Field label="Hostname or IP" error={e('host')} className="grow">
          <input value={form.host} onChange={(ev) => set({ host: ev.target.value })} placeholder="203.0.113.7" autoComplete="off" readOnly={lockTarget} />
        </Field>
        <Field label="SSH port" error={e('port')} className="narrow">
          <input value={form.port} onChange={(ev) => set({ port: ev.target.value })} inputMode="numeric" autoComplete="off" />
        </Field>
        <Field label="User" error={e('user')} className="narrow" hint="root, or a user who may sudo">
          <input value={form.user} onChange={(ev) => set({ user: ev.target.value })} autoComplete="off" />
        </Field>
      </div>
      <fieldset className="radio-row">
        <legend>Log in with</legend>
        <label>
          <input type="radio" name="ssh-auth" checked={form.auth === 'password'} onChange={() => set({ auth: 'password' })} /> Password
        </label>
        <label>
          <input type="radio" name="ssh-auth" checked={form.auth === 'key'} onChange={() => set({ auth: 'key' })} /> Private key
        </label>
      </fieldset>
      {form.auth === 'password' ? (
        <Field label="SSH password" error={e('password')} hint="Also used for sudo. Sent to the controller for this run only, never stored.">
          <input type="password" value={form.password} onChange={(ev) => set({ password: ev.target.value })} autoComplete="new-password" />
        </Field>
      ) : (
        <>
          <Field label="Private key" error={e('privateKey') ?? e('password')} hint="OpenSSH or PEM. Used for this run only, never stored.">
            <textarea className="mono" rows={5} value={form.privateKey} onChange={(ev) => set({ privateKey: ev.target.value })} placeholder="-----BEGIN OPENSSH PRIVATE KEY-----" spellCheck={false} />
          </Field>
          <Field label="Key passphrase (if any)" error={e('passphrase')}>
            <input type="password" value={form.passphrase} onChange={(ev) => set({ passphrase: ev.target.value })} autoComplete="off" />
          </Field>
        </>
      )}
      <Field label="Expected host key (optional)" error={errors.hostKeySha256} hint="SHA256:… from ssh-keygen -lf on the server. Empty: the key seen first is trusted and remembered.">
        <input className="mono" value={form.hostKey} onChange={(ev) => set({ hostKey: ev.target.value })} placeholder="SHA256:…" autoComplete="off" spellCheck={false} />
      </Field>
    </>
  );
}
