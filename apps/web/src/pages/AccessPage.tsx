import { useState, type FormEvent } from 'react';
import { apiTokenCreateSchema, userCreateSchema } from '@caddyfleet/protocol';
import { api, errorMessage, ApiError } from '../api/client';
import type { ApiToken, User } from '../api/types';
import { CardFormResult, CardSubmit } from '../components/CardForm';
import { SecretBox } from '../components/CopyButton';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Field } from '../components/Field';
import { RelativeTime } from '../components/RelativeTime';
import { EmptyState, ErrorNote, Loading } from '../components/States';
import { Table } from '../components/Table';
import { useApi } from '../hooks/useApi';
import { usePageTitle, useSession } from '../lib/auth';
import { apiErrors } from '../lib/apiErrors';
import { dateTime } from '../lib/format';
import { zodFieldErrors, type FieldErrors } from '../lib/zodErrors';
import { PasswordCard, SessionsCard, UserActions } from './AccountCards';

function NewToken({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const parsed = apiTokenCreateSchema.safeParse({ name });
    if (!parsed.success) {
      setError(zodFieldErrors(parsed.error).name ?? 'invalid name');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const res = await api.post<{ id: string; token: string }>('/tokens', parsed.data);
      setCreated({ name: parsed.data.name, token: res.token });
      setName('');
      onCreated();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="stack">
      <form className="inline-form" onSubmit={(e) => void submit(e)} noValidate>
        <Field label="Token name" error={error} hint="What the token is for, e.g. “ci deploy”.">
          <input value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <CardSubmit busy={busy} label="Create token" busyLabel="Creating…" />
      </form>
      {created && (
        <div className="alert alert-ok" role="status">
          <p>
            Token <strong>{created.name}</strong> created. Copy it now: it is shown only once.
          </p>
          <SecretBox label="API token" value={created.token} />
          <SecretBox label="Example" value={`curl -H "Authorization: Bearer ${created.token}" ${window.location.origin}/api/v1/nodes`} />
        </div>
      )}
    </div>
  );
}

function Tokens() {
  const tokens = useApi<ApiToken[]>('/tokens');
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  return (
    <section className="card" aria-labelledby="tokens-title">
      <h2 id="tokens-title">API tokens</h2>
      <p className="muted">For scripts and the command line: send as <code>Authorization: Bearer …</code>. A token acts with its owner&apos;s role.</p>
      <NewToken onCreated={tokens.reload} />
      {tokens.error && <ErrorNote error={tokens.error} onRetry={tokens.reload} />}
      {!tokens.data ? (
        !tokens.error && <Loading what="tokens" />
      ) : tokens.data.length === 0 ? (
        <EmptyState title="No API tokens yet.">
          <p>Create one above to use the API or the caddyfleet command line from another machine.</p>
        </EmptyState>
      ) : (
        <Table label="API tokens" columns={['Name', 'Created', 'Last used']} actions>
          {tokens.data.map((t) => (
            <tr key={t.id}>
              <td data-label="Name" className="strong">
                {t.name}
              </td>
              <td data-label="Created">{dateTime(t.createdAt)}</td>
              <td data-label="Last used">
                <RelativeTime iso={t.lastUsedAt} />
              </td>
              <td data-label="Actions" className="actions-cell">
                <button type="button" className="btn btn-small btn-danger-outline" onClick={() => setRevoking(t)} aria-label={`Revoke token ${t.name}`}>
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </Table>
      )}
      {revoking && (
        <ConfirmDialog
          title={`Revoke token ${revoking.name}?`}
          confirmLabel="Revoke"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await api.del(`/tokens/${encodeURIComponent(revoking.id)}`);
            tokens.reload();
          }}
        >
          <p>Scripts using this token will get “401 unauthorized” from now on.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function Users() {
  const users = useApi<User[]>('/users');
  const [form, setForm] = useState({ username: '', password: '', role: 'viewer' as 'viewer' | 'admin' });
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setCreated(null);
    const parsed = userCreateSchema.safeParse(form);
    if (!parsed.success) {
      setErrors(zodFieldErrors(parsed.error));
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      await api.post('/users', parsed.data);
      setCreated(parsed.data.username);
      setForm({ username: '', password: '', role: 'viewer' });
      users.reload();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'username_taken') setErrors({ username: err.message });
      else setErrors(apiErrors(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <p className="muted">Admins can change everything; viewers can only look.</p>
      {users.error && <ErrorNote error={users.error} onRetry={users.reload} />}
      {!users.data ? (
        !users.error && <Loading what="users" />
      ) : (
        <ul className="plain-list">
          {users.data.map((u) => (
            <li key={u.id} data-user={u.username}>
              <strong>{u.username}</strong> <span className="badge badge-neutral">{u.role}</span> <span className="muted">since {dateTime(u.createdAt)}</span>{' '}
              <span className="inline-actions">
                <UserActions user={u} onChanged={users.reload} />
              </span>
            </li>
          ))}
        </ul>
      )}
      <form className="grid-form" onSubmit={(e) => void submit(e)} noValidate>
        <Field label="Username" error={errors.username}>
          <input autoComplete="off" value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} />
        </Field>
        <Field label="Password" error={errors.password} hint="At least 12 characters.">
          <input type="password" autoComplete="new-password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} />
        </Field>
        <Field label="Role" error={errors.role}>
          <select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as 'viewer' | 'admin' })}>
            <option value="viewer">Viewer (read-only)</option>
            <option value="admin">Admin</option>
          </select>
        </Field>
        <CardSubmit busy={busy} label="Add user" busyLabel="Adding…" />
      </form>
      <CardFormResult error={errors._form} done={created && `User ${created} can now sign in.`} />
    </section>
  );
}

export function AccessPage() {
  usePageTitle('Users & API tokens');
  const { canWrite } = useSession();
  return (
    <div className="page">
      <div className="page-head">
        <h1>Users &amp; API tokens</h1>
      </div>
      <Tokens />
      <PasswordCard />
      <SessionsCard everyone={canWrite} />
      {canWrite && <Users />}
    </div>
  );
}
