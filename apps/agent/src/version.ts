import { readFileSync } from 'node:fs';

/** Set by the single-executable build (esbuild `define`); undefined when running from source through tsx. */
declare const __CADDYFLEET_AGENT_VERSION__: string | undefined;

/** The agent's version (reported in `hello`): baked in by the build, else read from its package.json. */
export const AGENT_VERSION: string =
  typeof __CADDYFLEET_AGENT_VERSION__ === 'string' ? __CADDYFLEET_AGENT_VERSION__ : versionFromPackageJson();

function versionFromPackageJson(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}
