/**
 * The self-contained agent (dist/caddyfleet-agent-linux-x64) for tests: built by the same script as
 * `npm run build`, which skips the build when its inputs did not change.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const AGENT_ARTIFACT = path.join(REPO, 'dist/caddyfleet-agent-linux-x64');
export const AGENT_PACKAGE_VERSION = (JSON.parse(readFileSync(path.join(REPO, 'apps/agent/package.json'), 'utf8')) as { version: string }).version;

/** Builds the artifact when it is missing or stale (a few seconds); returns its path. */
export function ensureAgentArtifact(): string {
  execFileSync(process.execPath, [path.join(REPO, 'scripts/build-agent.mjs')], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
  return AGENT_ARTIFACT;
}
