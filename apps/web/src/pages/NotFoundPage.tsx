import { EmptyState } from '../components/States';
import { usePageTitle } from '../lib/auth';
import { Link } from '../lib/router';

export function NotFoundPage() {
  usePageTitle('Not found');
  return (
    <EmptyState title="There is no page at this address." action={<Link to="/" className="btn btn-primary">Go to the overview</Link>}>
      <p>The link may be outdated, or the item was deleted.</p>
    </EmptyState>
  );
}
