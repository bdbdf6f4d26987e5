/**
 * The agent's files in its state directory. Everything is written atomically (temp file + rename) so a crash
 * or power loss leaves either the old or the new file, never half of one, and everything is read back through
 * zod so a damaged file stops the agent with the file name instead of feeding garbage to Caddy.
 */
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { CaddyConfig } from '@caddyfleet/caddy';
import { localRouteSchema, routeSchema, sourcedDockerEntrySchema } from '@caddyfleet/protocol';
import { writeFileAtomic } from './atomic-file';
import { StateFileError } from './errors';

export const agentStateSchema = z.object({
  controller: z.string().min(1),
  nodeId: z.string().min(1),
  agentKey: z.string().min(1),
});
export type AgentState = z.infer<typeof agentStateSchema>;

/** What Caddy was last successfully given: the central routes of that sync and the rendered config. */
export const appliedStateSchema = z.object({
  revision: z.number().int().min(0),
  routes: z.array(routeSchema),
  // Caddy validates the config itself when it is loaded; here it only has to be a JSON object.
  config: z.custom<CaddyConfig>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'must be a JSON object'),
  appliedAt: z.string().optional(),
  /** Docker sites of other nodes that this node serves, as the controller sent them with that sync. */
  dockerRoutes: z.array(sourcedDockerEntrySchema).optional(),
});
export type AppliedState = z.infer<typeof appliedStateSchema>;

/** A local route as stored: the protocol's local route plus timestamps for listings. */
export const storedLocalRouteSchema = z.intersection(
  localRouteSchema,
  z.object({ createdAt: z.string(), updatedAt: z.string() }),
);
export type StoredLocalRoute = z.infer<typeof storedLocalRouteSchema>;
const localRoutesFileSchema = z.object({ routes: z.array(storedLocalRouteSchema) });

/** The labelled containers of the last Docker list, so a restarted agent serves them before Docker answers. */
export const dockerContainerSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{12,64}$/),
  name: z.string().max(255),
  state: z.string().max(40),
  labels: z.record(z.string(), z.string()),
  networkMode: z.string().max(300),
  networks: z.record(z.string(), z.string()),
  ports: z.array(z.object({ ip: z.string(), privatePort: z.number().int(), publicPort: z.number().int().nullable(), type: z.string() })),
});
const dockerFileSchema = z.object({ containers: z.array(dockerContainerSchema) });

async function readJson<T>(file: string, schema: z.ZodType<T>): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StateFileError(file, `cannot read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new StateFileError(file, `is not valid JSON (${(err as Error).message}); fix or remove it`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length ? `${issue.path.join('.')}: ` : '';
    throw new StateFileError(file, `has an unexpected shape (${where}${issue?.message ?? 'invalid'}); fix or remove it`);
  }
  return parsed.data;
}

/** Stands for the state dir in the paths applied.json keeps, so that a copied or moved state dir still works. */
export const STATE_DIR_MARK = '$STATE_DIR';

/** The config with `from` replaced by `to` in the only places that hold state-dir paths: admin socket, storage. */
function withStateDir(config: CaddyConfig, from: string, to: string): CaddyConfig {
  const swap = (v: string) => (v.includes(from) ? v.split(from).join(to) : v);
  return {
    ...config,
    ...(config.admin ? { admin: { ...config.admin, listen: swap(config.admin.listen) } } : {}),
    ...(config.storage ? { storage: { ...config.storage, root: swap(config.storage.root) } } : {}),
  };
}

export class StateStore {
  readonly agentFile: string;
  readonly appliedFile: string;
  readonly localRoutesFile: string;
  /** Stream listener ports, for the host firewall (see stream-ports.ts). */
  readonly streamPortsFile: string;
  readonly dockerFile: string;
  /** Managed Caddy's home: bootstrap config, admin socket, XDG config/data (certificates). */
  readonly caddyDir: string;
  readonly agentSocket: string;

  constructor(readonly dir: string) {
    this.agentFile = path.join(dir, 'agent.json');
    this.appliedFile = path.join(dir, 'applied.json');
    this.localRoutesFile = path.join(dir, 'local-routes.json');
    this.streamPortsFile = path.join(dir, 'stream-ports');
    this.dockerFile = path.join(dir, 'docker.json');
    this.caddyDir = path.join(dir, 'caddy');
    this.agentSocket = path.join(dir, 'agent.sock');
  }

  /** Creates the directory 0700 (it holds the agent key); tightens an existing one that is looser. */
  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const st = await stat(this.dir);
    if (!st.isDirectory()) throw new StateFileError(this.dir, 'is not a directory');
    if ((st.mode & 0o077) !== 0) await chmod(this.dir, 0o700);
  }

  readAgent(): Promise<AgentState | null> {
    return readJson(this.agentFile, agentStateSchema);
  }

  writeAgent(state: AgentState): Promise<void> {
    return writeFileAtomic(this.agentFile, JSON.stringify(state, null, 2) + '\n', 0o600);
  }

  /** applied.json with its state-dir paths pointing into this state dir, wherever it was written. */
  async readApplied(): Promise<AppliedState | null> {
    const applied = await readJson(this.appliedFile, appliedStateSchema);
    return applied && { ...applied, config: withStateDir(applied.config, STATE_DIR_MARK, this.dir) };
  }

  writeApplied(state: AppliedState): Promise<void> {
    const portable = { ...state, config: withStateDir(state.config, this.dir, STATE_DIR_MARK) };
    return writeFileAtomic(this.appliedFile, JSON.stringify(portable) + '\n', 0o600);
  }

  /** The config as applied.json keeps it: state-dir paths replaced by STATE_DIR_MARK. */
  portableConfig(config: CaddyConfig): CaddyConfig {
    return withStateDir(config, this.dir, STATE_DIR_MARK);
  }

  /** applied.json from text the caller assembled (AppliedWriter reuses each route's JSON). */
  writeAppliedText(text: string): Promise<void> {
    return writeFileAtomic(this.appliedFile, text, 0o600);
  }

  async readLocalRoutes(): Promise<StoredLocalRoute[]> {
    return (await readJson(this.localRoutesFile, localRoutesFileSchema))?.routes ?? [];
  }

  writeStreamPorts(ports: string[]): Promise<void> {
    return writeFileAtomic(this.streamPortsFile, ports.map((p) => `${p}\n`).join(''), 0o600);
  }

  writeLocalRoutes(routes: StoredLocalRoute[]): Promise<void> {
    return writeFileAtomic(this.localRoutesFile, JSON.stringify({ routes }, null, 2) + '\n', 0o600);
  }

  /** The last Docker list, or null when there was none yet. */
  async readDockerContainers(): Promise<z.infer<typeof dockerContainerSchema>[] | null> {
    return (await readJson(this.dockerFile, dockerFileSchema))?.containers ?? null;
  }

  writeDockerContainers(containers: z.infer<typeof dockerContainerSchema>[]): Promise<void> {
    return writeFileAtomic(this.dockerFile, JSON.stringify({ containers }) + '\n', 0o600);
  }
}
