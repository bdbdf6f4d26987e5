import { useState, type FormEvent } from 'react';
import type { z } from 'zod';
import { ApiError, errorMessage } from '../api/client';
import { Field } from './Field';

/**
 * A one-field name form (create or rename) validated by a protocol schema; server errors show on the field.
 */
export function NameForm({
  label,
  initial = '',
  schema,
  submitLabel,
  onSubmit,
  onCancel,
  compact = false,
}: {
  label: string;
  initial?: string;
  schema: z.ZodType<string, string>;
  submitLabel: string;
  onSubmit: (name: string) => Promise<void>;
  onCancel?: () => void;
  compact?: boolean;
}) {
  const [name, setName] = useState(initial);
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const parsed = schema.safeParse(name);
    if (!parsed.success) {
      setError(parsed.error.issues[0]?.message ?? 'invalid name');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await onSubmit(parsed.data);
      if (!onCancel) setName('');
    } catch (err) {
      const detail = err instanceof ApiError ? err.fieldDetails.find((d) => d.path === 'name') : undefined;
      setError(detail ? detail.message : errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className={compact ? 'inline-form compact' : 'inline-form'} onSubmit={(e) => void submit(e)} noValidate>
      <Field label={label} error={error}>
        <input value={name} onChange={(e) => setName(e.target.value)} autoFocus={Boolean(onCancel)} maxLength={200} />
      </Field>
      <div className="inline-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : submitLabel}
        </button>
        {onCancel && (
          <button type="button" className="btn" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
