/**
 * The account parts of "Users & API tokens": changing your own password, your (or, for admins, everyone's)
 * signed-in sessions, and an admin's actions on a user (reset password, change role, remove).
 */
import { useState, type FormEvent } from 'react';
import { passwordChangeSchema, passwordSchema } from '@caddyfleet/protocol';
import { api } from '../api/client';
import type { User } from '../api/types';
import { CardFormResult, CardSubmit } from '../components/CardForm';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Field } from '../components/Field';
import { FormFooter } from '../components/FormFooter';
import { Modal } from '../components/Modal';
import { RelativeTime } from '../components/RelativeTime';
import { ErrorNote, Loading } from '../components/States';
import { Table } from '../components/Table';
import { useApi } from '../hooks/useApi';
import { apiErrors } from '../lib/apiErrors';
import { dateTime } from '../lib/format';
import { zodFieldErrors, type FieldErrors } from '../lib/zodErrors';

interface SessionInfo {
  id: string;
  userId: string;
  username: string;
  createdAt: string;
  expiresAt: string;
  current: boolean;
}

export function PasswordCard() {
  const empty = { currentPassword: '', newPassword: '', repeat: '' };
  const [form, setForm] = useState(empty);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setDone(null);
    const parsed = passwordChangeSchema.safeParse({ currentPassword: form.currentPassword, newPassword: form.newPassword });
    const found = parsed.success ? {} : zodFieldErrors(parsed.error);
    if (form.repeat !== form.newPassword) found.repeat = 'does not match the new password';
    if (!parsed.success || found.repeat) return setErrors(found);
    setBusy(true);
    setErrors({});
    try {
      const res = await api.post<{ endedSessions: number }>('/auth/password', parsed.data);
      setForm(empty);
      setDone(`Password changed. ${res.endedSessions === 1 ? '1 other session was' : `${res.endedSessions} other sessions were`} signed out; API tokens keep working.`);
    } catch (err) {
      setErrors(apiErrors(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="password-title">
      <h2 id="password-title">Your password</h2>
      <form className="grid-form" onSubmit={(e) => void submit(e)} noValidate>
        <Field label="Current password" error={errors.currentPassword}>
          <input type="password" autoComplete="current-password" value={form.currentPassword} onChange={(e) => setForm({ ...form, currentPassword: e.target.value })} />
        </Field>
        <Field label="New password" error={errors.newPassword} hint="At least 12 characters. Your other sessions are signed out.">
          <input type="password" autoComplete="new-password" value={form.newPassword} onChange={(e) => setForm({ ...form, newPassword: e.target.value })} />
        </Field>
        <Field label="New password again" error={errors.repeat}>
          <input type="password" autoComplete="new-password" value={form.repeat} onChange={(e) => setForm({ ...form, repeat: e.target.value })} />
        </Field>
        <CardSubmit busy={busy} label="Change password" busyLabel="Changing…" />
      </form>
      <CardFormResult error={errors._form} done={done} />
    </section>
  );
}

export function SessionsCard({ everyone }: { everyone: boolean }) {
  const sessions = useApi<SessionInfo[]>('/sessions');
  const [ending, setEnding] = useState<SessionInfo | null>(null);
  return (
    <section className="card" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Signed-in sessions</h2>
      <p className="muted">{everyone ? 'Every signed-in dashboard session.' : 'Where you are signed in.'} Ending one signs it out at once.</p>
      {sessions.error && <ErrorNote error={sessions.error} onRetry={sessions.reload} />}
      {!sessions.data ? (
        !sessions.error && <Loading what="sessions" />
      ) : (
        <Table label="Sessions" columns={['User', 'Signed in', 'Expires']} actions>
          {sessions.data.map((s) => (
            <tr key={s.id} data-session={s.id}>
              <td data-label="User" className="strong">
                {s.username} {s.current && <span className="badge badge-neutral">this session</span>}
              </td>
              <td data-label="Signed in">
                <RelativeTime iso={s.createdAt} />
              </td>
              <td data-label="Expires">{dateTime(s.expiresAt)}</td>
              <td data-label="Actions" className="actions-cell">
                <button type="button" className="btn btn-small btn-danger-outline" onClick={() => setEnding(s)} aria-label={`End session of ${s.username} from ${dateTime(s.createdAt)}`}>
                  {s.current ? 'Sign out' : 'End'}
                </button>
              </td>
            </tr>
          ))}
        </Table>
      )}
      {ending && (
        <ConfirmDialog
          title={ending.current ? 'Sign out this session?' : `End this session of ${ending.username}?`}
          confirmLabel={ending.current ? 'Sign out' : 'End session'}
          onClose={() => setEnding(null)}
          onConfirm={async () => {
            await api.del(`/sessions/${encodeURIComponent(ending.id)}`);
            sessions.reload();
          }}
        >
          <p>That browser is signed out and its live updates stop.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

/** Reset password, change role and remove, for one user (admins). */
export function UserActions({ user, onChanged }: { user: User; onChanged: () => void }) {
  const [dialog, setDialog] = useState<'reset' | 'role' | 'remove' | null>(null);
  const other = user.role === 'admin' ? 'viewer' : 'admin';
  return (
    <>
      <button type="button" className="btn btn-small" onClick={() => setDialog('reset')} aria-label={`Reset password of ${user.username}`}>
        Reset password
      </button>
      <button type="button" className="btn btn-small" onClick={() => setDialog('role')} aria-label={`Make ${user.username} ${other}`}>
        Make {other}
      </button>
      <button type="button" className="btn btn-small btn-danger-outline" onClick={() => setDialog('remove')} aria-label={`Remove user ${user.username}`}>
        Remove
      </button>
      {dialog === 'reset' && <ResetPassword user={user} onClose={() => setDialog(null)} />}
      {dialog === 'role' && (
        <ConfirmDialog
          title={`Make ${user.username} ${other === 'admin' ? 'an admin' : 'a viewer'}?`}
          confirmLabel={`Make ${other}`}
          danger={false}
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await api.patch(`/users/${encodeURIComponent(user.id)}`, { role: other });
            onChanged();
          }}
        >
          <p>{other === 'admin' ? 'Admins can change everything.' : 'Viewers can look but not change anything.'} It applies to their next request.</p>
        </ConfirmDialog>
      )}
      {dialog === 'remove' && (
        <ConfirmDialog
          title={`Remove user ${user.username}?`}
          confirmLabel="Remove"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await api.del(`/users/${encodeURIComponent(user.id)}`);
            onChanged();
          }}
        >
          <p>Their sessions end and their API tokens stop working. The last admin cannot be removed.</p>
        </ConfirmDialog>
      )}
    </>
  );
}

function ResetPassword({ user, onClose }: { user: User; onClose: () => void }) {
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const parsed = passwordSchema.safeParse(password);
    if (!parsed.success) return setErrors({ password: parsed.error.issues[0]?.message ?? 'invalid' });
    setBusy(true);
    setErrors({});
    try {
      await api.patch(`/users/${encodeURIComponent(user.id)}`, { password: parsed.data });
      onClose();
    } catch (err) {
      setErrors(apiErrors(err));
      setBusy(false);
    }
  };
  return (
    <Modal title={`New password for ${user.username}`} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <Field label="New password" error={errors.password} hint="At least 12 characters. All of their sessions are signed out.">
          <input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} autoFocus />
        </Field>
        <FormFooter error={errors._form} busy={busy} onCancel={onClose} submitLabel="Set password" busyLabel="Setting…" />
      </form>
    </Modal>
  );
}
