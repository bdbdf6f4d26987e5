import type { ReactNode } from 'react';

/** A column heading, with a class for the column (e.g. "num") when it needs one. */
export type Column = string | { label: string; className: string };

/**
 * A responsive table (cards on a phone, see styles.css) in its scroll wrapper: one `th scope="col"` a column, with
 * `actions` a last column named only for screen readers, and the rows as children. `after` goes below the table.
 */
export function Table({
  label,
  columns,
  actions = false,
  compact = false,
  after,
  children,
}: {
  label: string;
  columns: Column[];
  actions?: boolean;
  compact?: boolean;
  after?: ReactNode;
  children: ReactNode;
}) {
  return (
    <div className="table-wrap">
      <table className={compact ? 'table responsive table-compact' : 'table responsive'} aria-label={label}>
        <thead>
          <tr>
            {columns.map((c) =>
              typeof c === 'string' ? (
                <th key={c} scope="col">
                  {c}
                </th>
              ) : (
                <th key={c.label} scope="col" className={c.className}>
                  {c.label}
                </th>
              ),
            )}
            {actions && (
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
      {after}
    </div>
  );
}
