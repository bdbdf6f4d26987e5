import { useNow } from '../hooks/useNow';
import { dateTime, relativeTime } from '../lib/format';

/** "12 s ago", re-rendered every second; the full date is in the tooltip. */
export function RelativeTime({ iso }: { iso: string | null }) {
  const now = useNow();
  if (!iso) return <span className="muted">never</span>;
  return (
    <time dateTime={iso} title={dateTime(iso)}>
      {relativeTime(iso, now)}
    </time>
  );
}
