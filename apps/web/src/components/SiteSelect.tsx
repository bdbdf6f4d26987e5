import type { SelectHTMLAttributes } from 'react';
import type { SiteOption } from '../hooks/useHierarchy';

/**
 * A select of sites by their "Tenant / Organization / Site" path; `placeholder` adds an empty first choice. Other
 * props (id, aria-*) reach the select, so it works inside a Field.
 */
export function SiteSelect({
  options,
  value,
  onChange,
  placeholder,
  ...rest
}: { options: SiteOption[]; value: string; onChange: (siteId: string) => void; placeholder?: string } & Omit<SelectHTMLAttributes<HTMLSelectElement>, 'value' | 'onChange'>) {
  return (
    <select {...rest} value={value} onChange={(e) => onChange(e.target.value)}>
      {placeholder !== undefined && <option value="">{placeholder}</option>}
      {options.map((s) => (
        <option key={s.site.id} value={s.site.id}>
          {s.path}
        </option>
      ))}
    </select>
  );
}
