#!/usr/bin/env node
/**
 * Builds the self-contained agent, dist/caddyfleet-agent-linux-x64 (+ .sha256): a Node single-executable
 * application, i.e. this Node binary with the bundled agent injected, so target hosts need no Node.js.
 *   1. esbuild bundles apps/agent/src/bin/main.ts and its dependencies into one CommonJS file
 *   2. `node --experimental-sea-config` turns it into a blob
 *   3. postject injects the blob into a copy of process.execPath (which carries the SEA fuse)
 * Skipped when nothing that goes into it changed (inputs hashed into dist/.caddyfleet-agent.inputs); --force
 * rebuilds anyway. Usage: node scripts/build-agent.mjs [--force]
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NAME = 'caddyfleet-agent-linux-x64';
const DIST = path.join(ROOT, 'dist');
const OUT = path.join(DIST, NAME);
const STAMP = path.join(DIST, '.caddyfleet-agent.inputs');
// Per process: two builds at once (parallel test files) must not share a work dir; the results are renamed into place.
const WORK = path.join(ROOT, '.tmp', `agent-build-${process.pid}`);
const ENTRY = path.join(ROOT, 'apps/agent/src/bin/main.ts');
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const MAX_BYTES = 120 * 1024 * 1024;

const log = (line) => process.stderr.write(`build-agent: ${line}\n`);

function fail(message) {
  log(`error: ${message}`);
  process.exit(1);
}

/** Runs a build step, showing its output only when it fails. */
function quiet(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    fail(`${path.basename(cmd)} ${args.join(' ')} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

/** Every file of a source tree, sorted (node_modules and tests left out). */
function sourceFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') out.push(...sourceFiles(full));
    } else if (!entry.name.endsWith('.test.ts')) {
      out.push(full);
    }
  }
  return out.sort();
}

/** What the artifact depends on: the agent's and shared packages' sources, the lock file, this script, this Node. */
function inputsDigest() {
  const hash = createHash('sha256');
  const files = [
    ...sourceFiles(path.join(ROOT, 'apps/agent/src')),
    ...sourceFiles(path.join(ROOT, 'packages/protocol/src')),
    ...sourceFiles(path.join(ROOT, 'packages/caddy/src')),
    path.join(ROOT, 'apps/agent/package.json'),
    path.join(ROOT, 'package-lock.json'),
    fileURLToPath(import.meta.url),
    ...sourceFiles(path.join(ROOT, 'scripts/agent-bundle')),
  ];
  for (const file of files) hash.update(path.relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  const node = statSync(process.execPath);
  hash.update(`${process.execPath}\0${process.version}\0${node.size}\0${node.mtimeMs}`);
  return hash.digest('hex');
}

if (process.platform !== 'linux' || process.arch !== 'x64') fail(`builds on linux-x64 only (this is ${process.platform}-${process.arch})`);
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 12)) fail(`needs Node >= 20.12 for single executables (this is ${process.version})`);

const digest = inputsDigest();
const force = process.argv.includes('--force');
if (!force && existsSync(OUT) && existsSync(`${OUT}.sha256`) && existsSync(STAMP) && readFileSync(STAMP, 'utf8').trim() === digest) {
  log(`${path.relative(ROOT, OUT)} is up to date`);
  process.exit(0);
}

const started = Date.now();
const version = JSON.parse(readFileSync(path.join(ROOT, 'apps/agent/package.json'), 'utf8')).version;
rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
mkdirSync(DIST, { recursive: true });

const bundle = path.join(WORK, 'agent.cjs');
const result = await build({
  entryPoints: [ENTRY],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // The source reads its version from package.json at run time; the executable has no package.json.
  define: {
    __CADDYFLEET_AGENT_VERSION__: JSON.stringify(version),
    // ws's optional native add-ons: never there, and a single executable's require() warns when asked for one.
    'process.env.WS_NO_BUFFER_UTIL': '"1"',
    'process.env.WS_NO_UTF_8_VALIDATE': '"1"',
  },
  external: ['bufferutil', 'utf-8-validate'],
  // dockerode's docker-modem brings ssh2 for ssh:// Docker hosts, which the agent refuses; ssh2's native add-ons
  // cannot load in a single executable. Stubs keep it (and its .node files) and debug's optional supports-color
  // out of the bundle, so the executable never asks its require() for a file it cannot load.
  alias: {
    ssh2: fileURLToPath(new URL('./agent-bundle/ssh2-stub.cjs', import.meta.url)),
    'supports-color': fileURLToPath(new URL('./agent-bundle/supports-color-stub.cjs', import.meta.url)),
  },
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'silent',
});
for (const w of result.warnings) log(`esbuild warning: ${w.text}${w.location ? ` (${w.location.file}:${w.location.line})` : ''}`);

const blob = path.join(WORK, 'agent.blob');
const seaConfig = path.join(WORK, 'sea-config.json');
writeFileSync(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
quiet(process.execPath, ['--experimental-sea-config', seaConfig]);

const exe = path.join(WORK, NAME);
copyFileSync(process.execPath, exe);
chmodSync(exe, 0o755);
if (!readFileSync(exe).includes(SEA_FUSE)) fail(`${process.execPath} has no single-executable fuse (${SEA_FUSE}); use an official Node build`);
// postject's ELF library prints harmless warnings about note sections; its output is shown only on failure.
quiet(process.execPath, [path.join(ROOT, 'node_modules/postject/dist/cli.js'), exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);

const size = statSync(exe).size;
if (size > MAX_BYTES) fail(`${NAME} is ${(size / 1048576).toFixed(1)} MiB, over the ${MAX_BYTES / 1048576} MiB limit`);
const reported = execFileSync(exe, ['--version'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } }).trim();
if (reported !== version) fail(`the built executable reports version "${reported}", expected "${version}"`);

const sha = createHash('sha256').update(readFileSync(exe)).digest('hex');
writeFileSync(path.join(WORK, 'sha256'), `${sha}  ${NAME}\n`);
writeFileSync(path.join(WORK, 'stamp'), digest + '\n');
renameSync(exe, OUT);
renameSync(path.join(WORK, 'sha256'), `${OUT}.sha256`);
renameSync(path.join(WORK, 'stamp'), STAMP);
rmSync(WORK, { recursive: true, force: true });
log(`built ${path.relative(ROOT, OUT)} ${version}: ${(size / 1048576).toFixed(1)} MiB, sha256 ${sha.slice(0, 16)}…, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
