/**
 * Which TLS mode suits a set of domains when the user has not chosen one. Public certificate authorities only
 * issue for names in the public DNS: `localhost`, the special-use TLDs (RFC 6761, RFC 6762, RFC 8375: .localhost,
 * .test, .example, .invalid, .local, .home.arpa), the common private ones (.internal, .lan, .corp) and IP
 * addresses cannot get one, so `auto` would answer with a redirect to an HTTPS that never gets a certificate.
 */
const PRIVATE_SUFFIXES = ['localhost', 'test', 'example', 'invalid', 'local', 'home.arpa', 'internal', 'lan', 'corp', 'intranet', 'private'];

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** True when no public certificate can be issued for `domain` (wildcards included: `*.app.test`). */
export function isPrivateName(domain: string): boolean {
  const d = domain.toLowerCase().replace(/^\*\./, '').replace(/\.$/, '');
  if (IPV4.test(d) || d.includes(':')) return true;
  return PRIVATE_SUFFIXES.some((s) => d === s || d.endsWith(`.${s}`)) || !d.includes('.');
}

/** `off` when every domain is private (plain HTTP works as typed); `auto` otherwise. */
export function suggestedTls(domains: readonly string[]): 'auto' | 'off' {
  return domains.length > 0 && domains.every(isPrivateName) ? 'off' : 'auto';
}
