/** What a Caddy binary is: its version (for the controller's node list) and whether it has the layer4 module. */
import { execFile } from 'node:child_process';

export interface CaddyInfo {
  version: string;
  layer4: boolean;
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

/** Runs `caddy version` (first token, e.g. `v2.7.6` or Debian's `2.6.2`) and `caddy list-modules`. */
export async function probeCaddy(bin: string): Promise<CaddyInfo> {
  const version = (await run(bin, ['version'])).trim().split(/\s+/)[0] ?? '';
  if (!version) throw new Error(`\`${bin} version\` printed nothing; is it Caddy?`);
  const modules = await run(bin, ['list-modules']);
  return { version: version.slice(0, 100), layer4: /^layer4(\.|$)/m.test(modules) };
}
