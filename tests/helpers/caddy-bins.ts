/**
 * The two Caddys the integration tests run against:
 *  - Debian's package (/usr/bin/caddy, 2.6.2): no layer4 module;
 *  - the build of scripts/build-caddy.sh (v2.11.9 with caddy-l4 and caddy-ratelimit): `.ci/run` builds it and
 *    exports its path as CADDYFLEET_TEST_CADDY_L4; locally the cached build is used when there is one.
 * Under CI=true a missing one is an error (the file fails); locally its suites are skipped with a message.
 *
 *   for (const caddy of caddyFlavors()) describe.skipIf(!caddy.bin)(`… (${caddy.label})`, () => { … caddy.bin! … });
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBinary, isCI, requireBinary } from './processes';

export const DEBIAN_CADDY = '/usr/bin/caddy';
export const LAYER4_ENV = 'CADDYFLEET_TEST_CADDY_L4';
const BUILD_SCRIPT = join(fileURLToPath(new URL('../..', import.meta.url)), 'scripts', 'build-caddy.sh');

export interface CaddyFlavor {
  /** For test names: `debian-2.6` or `layer4-2.11`. */
  label: string;
  /** Absolute path of the binary, or null when it is not available (locally only; CI throws instead). */
  bin: string | null;
  /** Whether this Caddy has the layer4 app (stream routes). */
  layer4: boolean;
}

let layer4Cache: string | null | undefined;

/** Path of the layer4 Caddy: $CADDYFLEET_TEST_CADDY_L4, else the cached build; null locally when neither exists. */
export function layer4CaddyBin(): string | null {
  if (layer4Cache !== undefined) return layer4Cache;
  const fromEnv = process.env[LAYER4_ENV];
  let found: string | null = null;
  let why = '';
  if (fromEnv) {
    found = findBinary(fromEnv);
    if (!found) why = `${LAYER4_ENV}=${fromEnv} is not an executable file`;
  } else {
    const r = spawnSync('bash', [BUILD_SCRIPT, '--cached-only'], { encoding: 'utf8', timeout: 10_000 });
    const path = r.status === 0 ? r.stdout.trim().split('\n').pop() : undefined;
    found = path ? findBinary(path) : null;
    if (!found) why = `${LAYER4_ENV} is not set and scripts/build-caddy.sh has no cached build`;
  }
  if (!found) {
    const msg = `Caddy with layer4 not available: ${why} (build it with: bash scripts/build-caddy.sh)`;
    if (isCI()) throw new Error(`${msg}. CI=true: refusing to skip. .ci/run should have built it.`);
    console.warn(`[skip] ${msg}; skipping the tests that need it.`);
  }
  layer4Cache = found;
  return found;
}

/** Both Caddys, in a fixed order; `bin` null for one that is missing locally. */
export function caddyFlavors(): CaddyFlavor[] {
  return [
    { label: 'debian-2.6', bin: requireBinary(DEBIAN_CADDY, 'caddy') ? DEBIAN_CADDY : null, layer4: false },
    { label: 'layer4-2.11', bin: layer4CaddyBin(), layer4: true },
  ];
}

/** The layer4 Caddy as a flavor (for the stream-only suites). */
export function layer4Flavor(): CaddyFlavor {
  return { label: 'layer4-2.11', bin: layer4CaddyBin(), layer4: true };
}
