import { useState, type FormEvent } from 'react';
import { loginSchema } from '@caddyfleet/protocol';
import { ApiError, errorMessage, request } from '../api/client';
import type { Me } from '../api/types';
import { Field } from '../components/Field';
import { usePageTitle } from '../lib/auth';
import { zodFieldErrors, type FieldErrors } from '../lib/zodErrors';

export function LoginPage({ onLoggedIn }: { onLoggedIn: (me: Me) => void }) {
  usePageTitle('Log in');
  const [username, setUsername] = useState('admin');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setFormError(null);
    const parsed = loginSchema.safeParse({ username, password });
    if (!parsed.success) {
      setErrors(zodFieldErrors(parsed.error));
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      await request('POST', '/auth/login', { body: parsed.data, quiet401: true });
      onLoggedIn(await request<Me>('GET', '/auth/me'));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setFormError('Wrong username or password.');
      else setFormError(errorMessage(err));
      setBusy(false);
    }
  };

  return (
    <div className="login-page">
      <form className="card login-card" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="login-title">
        <div className="login-brand">
          <img src="/favicon.svg" alt="" width={36} height={36} />
          <h1 id="login-title">caddyfleet</h1>
        </div>
        <p className="muted">Sign in to manage your Caddy servers.</p>
        <Field label="Username" error={errors.username}>
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
        </Field>
        <Field label="Password" error={errors.password}>
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </Field>
        {formError && (
          <p className="alert alert-error" role="alert">
            {formError}
          </p>
        )}
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <details className="first-run">
          <summary>First time here?</summary>
          <p>
            The user is <code>admin</code>. Its password was printed <strong>once</strong> in the controller&apos;s output when it first
            started (look for <q>created user &quot;admin&quot; with generated password</q> in its log or <code>journalctl</code>).
          </p>
          <p>
            To choose your own instead, set <code>CADDYFLEET_ADMIN_PASSWORD</code> (at least 12 characters) before the controller&apos;s first
            start on a fresh data directory.
          </p>
        </details>
      </form>
    </div>
  );
}
