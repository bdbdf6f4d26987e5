/**
 * CIDR ranges whose address has bits set beyond the prefix, such as `192.168.1.10/24`. Caddy (like nginx) masks
 * them silently, so an allow list meant for one host would let the whole /24 in, and a deny list would shut it
 * out: almost always a typo, refused with the range it stands for. Only where a value is entered (the API's
 * create and patch, an agent's local API), not in the route schema itself: routes stored before this check, in
 * the database, applied.json or an agent's local routes, must still load and travel between controller and agent.
 */
import type { ProxyOptions } from './proxy-options';

function v4Bits(address: string): bigint {
  return address.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function v6Bits(address: string): bigint {
  let text = address.replace(/%.*$/, '');
  // An embedded IPv4 tail (::ffff:192.0.2.1) is two more groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = v4Bits(v4[1]!);
    text = text.slice(0, -v4[1]!.length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(':').filter((g) => g !== '') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function formatV4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => ((n >> s) & 0xffn).toString()).join('.');
}

function formatV6(n: bigint): string {
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => ((n >> s) & 0xffffn).toString(16));
  // RFC 5952: the longest run of two or more zero groups becomes `::`.
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** The network of `range` (`10.0.0.0/8` for `10.0.0.1/8`) when its address has host bits set; null otherwise. */
export function cidrWithHostBits(range: string): string | null {
  const slash = range.lastIndexOf('/');
  if (slash < 0) return null;
  const address = range.slice(0, slash);
  const prefix = BigInt(Number(range.slice(slash + 1)));
  const v6 = address.includes(':');
  const width = v6 ? 128n : 32n;
  const bits = v6 ? v6Bits(address) : v4Bits(address);
  const hostMask = (1n << (width - prefix)) - 1n;
  if ((bits & hostMask) === 0n) return null;
  const network = bits & ~hostMask & ((1n << width) - 1n);
  return `${v6 ? formatV6(network) : formatV4(network)}/${prefix}`;
}

/**
 * The access-list ranges of `options` with host bits set, as problems naming their field (`access.allow.0`); a
 * range the route already had (`before`, the stored options) is let through, so older routes stay editable.
 */
export function hostBitRangeProblems(options: ProxyOptions | null | undefined, before?: ProxyOptions | null): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  for (const list of ['allow', 'deny'] as const) {
    const had = new Set(before?.access?.[list] ?? []);
    (options?.access?.[list] ?? []).forEach((range, i) => {
      const network = had.has(range) ? null : cidrWithHostBits(range);
      if (network) problems.push({ path: ['access', list, i], message: `has bits set after its prefix: write ${network} for the range, or the address alone for one host` });
    });
  }
  return problems;
}
