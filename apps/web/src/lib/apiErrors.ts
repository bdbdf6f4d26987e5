/** Where a form shows an API error: validation details on their fields, anything else as a form-level error. */
import { ApiError, errorMessage } from '../api/client';
import type { FieldErrors } from './zodErrors';

/** The controller's validation details as field errors, or null when the error carries none. */
export function apiFieldErrors(err: unknown): FieldErrors | null {
  if (!(err instanceof ApiError) || !err.fieldDetails.length) return null;
  return Object.fromEntries(err.fieldDetails.map((d) => [d.path, d.message]));
}

/** Field errors from an API error's details, or its message as the form error (`_form`). */
export function apiErrors(err: unknown): FieldErrors {
  return apiFieldErrors(err) ?? { _form: errorMessage(err) };
}

/** Server errors with field details land on their fields (and the message above the buttons); the rest above the buttons. */
export function applyApiError(err: unknown, setErrors: (e: FieldErrors) => void, setFormError: (e: string | null) => void): void {
  const fields = apiFieldErrors(err);
  if (fields) {
    setErrors(fields);
    setFormError((err as ApiError).message);
  } else setFormError(errorMessage(err));
}
