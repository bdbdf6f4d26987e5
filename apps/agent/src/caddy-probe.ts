/** What a Caddy is: its version (for the controller's node list) and its modules; for an existing Caddy, whether it has layer4. */
import { execFile } from 'node:child_process';
import { MAX_CADDY_MODULES } from '@caddyfleet/protocol';
import type { CaddyAdmin } from '@caddyfleet/caddy';

export interface CaddyInfo {
  version: string;
  /** Every module `caddy list-modules` printed, sorted. */
  modules: string[];
}

function run(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 10_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const detail = (stderr || '').trim().split('\n').slice(-3).join(' ');
        reject(new Error(`\`${bin} ${args.join(' ')}\` failed: ${err.message}${detail ? ` (${detail})` : ''}`));
      } else resolve(stdout);
    });
  });
}

/** Module ids from `caddy list-modules` output: one per line, then blank lines and "N standard modules" summaries. */
export function parseModuleList(output: string): string[] {
  const ids = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[A-Za-z0-9_.-]+$/.test(l) && l.length <= 200);
  return [...new Set(ids)].sort().slice(0, MAX_CADDY_MODULES);
}

/** Runs `caddy version` (first token, e.g. `v2.7.6` or Debian's `2.6.2`) and `caddy list-modules`. */
export async function probeCaddy(bin: string): Promise<CaddyInfo> {
  const version = (await run(bin, ['version'])).trim().split(/\s+/)[0] ?? '';
  if (!version) throw new Error(`\`${bin} version\` printed nothing; is it Caddy?`);
  const modules = parseModuleList(await run(bin, ['list-modules']));
  return { version: version.slice(0, 100), modules };
}

/**
 * Whether an existing Caddy, known only by its admin API, has the layer4 app. The admin API cannot list modules,
 * but `POST /adapt` (which runs nothing) fails on a Caddyfile with a `layer4` global option when the app is absent.
 */
export async function probeAdminLayer4(admin: CaddyAdmin): Promise<boolean> {
  const caddyfile = '{\n\tlayer4 {\n\t\t127.0.0.1:1 {\n\t\t\troute {\n\t\t\t\tproxy 127.0.0.1:2\n\t\t\t}\n\t\t}\n\t}\n}\n';
  try {
    await admin.adapt(caddyfile);
    return true;
  } catch {
    return false;
  }
}
