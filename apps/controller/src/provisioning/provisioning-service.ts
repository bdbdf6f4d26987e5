/**
 * Provisioning jobs: creates (or re-uses) the node, starts the run in the background, keeps its state in memory
 * for live streams and in the database for later, and turns the outcome into the node's status. Credentials live
 * only in the closure of one run; the agent key only as long as it takes to hand it to the host (its SHA-256 is
 * what the node row keeps, as with enrollment).
 */
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { FleetNode, ProvisionJob, ProvisionRequest, ReprovisionRequest, SshCredentials } from '@caddyfleet/protocol';
import { newId, randomSecret, sha256 } from '../crypto';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../errors';
import { audit } from '../services/audit-service';
import { LOCAL_NODE_ID, type Actor, type ServiceContext } from '../services/context';
import { newNodeRow, nodeToApi } from '../services/node-service';
import { loadArtifact, type Artifact } from './artifacts';
import { JobRun } from './job-run';
import { JobStore } from './job-store';
import { runSteps } from './runner';
import type { StepEnv } from './step-env';
import { PACKAGE_CADDY_BIN, buildSteps } from './steps';

export interface ProvisioningOptions {
  /** The controller's public URL, when configured; otherwise the URL the API request came in on is used. */
  publicUrl: string | null;
  /** The agent executable uploaded to hosts. */
  agentArtifact: string | null;
  /** A Caddy binary to upload instead of installing the OS package. */
  caddyArtifact: string | null;
}

interface Active {
  run: JobRun;
  cancelled: boolean;
  cancel(): void;
  done: Promise<void>;
}

const PERSIST_EVERY_MS = 1000;
const LAST_LINES_IN_ERROR = 8;

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

export class ProvisioningService {
  private readonly active = new Map<string, Active>();
  private readonly connectedAt = new Map<string, number>();
  private readonly connectWaiters = new Set<(nodeId: string) => void>();
  readonly store: JobStore;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly opts: ProvisioningOptions,
    private readonly log: Logger,
  ) {
    this.store = new JobStore(ctx.db);
    ctx.events.on('connected', (nodeId) => {
      if (!this.active.has(nodeId)) return;
      this.connectedAt.set(nodeId, Date.now());
      for (const w of this.connectWaiters) w(nodeId);
    });
  }

  /** A run left `running` by a stopped controller failed; its node shows that instead of provisioning forever. */
  async init(): Promise<void> {
    const now = this.ctx.now().toISOString();
    const nodes = await this.store.failInterrupted(now);
    if (nodes.length === 0) return;
    await this.ctx.db
      .updateTable('nodes')
      .set({ status: 'error', last_error: 'provisioning was interrupted by a controller restart; provision again', updated_at: now })
      .where('id', 'in', nodes)
      .where('status', '=', 'provisioning')
      .execute();
  }

  isRunning(nodeId: string): boolean {
    return this.active.has(nodeId);
  }

  /** Refusals that need no host: they happen before anything is created. */
  private async preflight(requestOrigin: string): Promise<{ controllerUrl: string; agent: Artifact; caddy: Artifact | null }> {
    const controllerUrl = this.opts.publicUrl ?? requestOrigin;
    if (isLoopbackUrl(controllerUrl)) {
      throw new ConflictError(
        'public_url_required',
        `the controller is reached at ${controllerUrl}, a loopback address the new server cannot connect back to: start the controller with --public-url set to a URL the server can reach`,
      );
    }
    if (!this.opts.agentArtifact) throw new ConflictError('agent_artifact_missing', 'this controller has no agent executable to install (--agent-artifact)');
    let agent: Artifact;
    try {
      agent = await loadArtifact(this.opts.agentArtifact);
    } catch {
      throw new ConflictError('agent_artifact_missing', `the agent executable ${this.opts.agentArtifact} is missing: build it with \`npm run build\`, or point --agent-artifact at it`);
    }
    let caddy: Artifact | null = null;
    if (this.opts.caddyArtifact) {
      try {
        caddy = await loadArtifact(this.opts.caddyArtifact);
      } catch {
        throw new ConflictError('caddy_artifact_missing', `the Caddy binary ${this.opts.caddyArtifact} given with --caddy-artifact is missing`);
      }
    }
    return { controllerUrl, agent, caddy };
  }

  async provision(actor: Actor, req: ProvisionRequest, requestOrigin: string): Promise<{ node: FleetNode; job: ProvisionJob }> {
    const pre = await this.preflight(requestOrigin);
    const site = await this.ctx.db.selectFrom('sites').select('id').where('id', '=', req.siteId).executeTakeFirst();
    if (!site) throw new ValidationError(`site ${req.siteId} does not exist`, [{ path: 'siteId', message: 'does not exist' }]);
    const agentKey = randomSecret('cfa');
    const now = this.ctx.now().toISOString();
    const node = {
      ...newNodeRow({ id: newId('node'), site_id: req.siteId, name: req.name, hostname: req.ssh.host, is_local: 0, agent_key_hash: sha256(agentKey) }, now),
      status: 'provisioning',
    };
    const run = this.newRun(node.id, 'provision', req.ssh, actor, now);
    await this.ctx.db.transaction().execute(async (trx) => {
      await trx.insertInto('nodes').values(node).execute();
      await this.store.insert(run, trx);
      await audit(trx, this.ctx, actor, 'provision', 'node', node.id, null, { id: node.id, name: node.name, siteId: node.site_id, target: run.meta.target });
    });
    this.ctx.events.emit('node', node.id);
    this.start(run, req.ssh, agentKey, pre, req.hostKeySha256 ? { sha256: req.hostKeySha256, from: 'the key given with the request' } : null, []);
    return { node: nodeToApi(node), job: run.snapshot() };
  }

  async reprovision(actor: Actor, nodeId: string, req: ReprovisionRequest, requestOrigin: string): Promise<{ node: FleetNode; job: ProvisionJob }> {
    if (nodeId === LOCAL_NODE_ID) throw new ConflictError('local_node', "the controller's local node runs inside the controller and is not provisioned over SSH");
    if (this.active.has(nodeId)) throw new ConflictError('provisioning_running', `node ${nodeId} is being provisioned right now; wait for that run to end`);
    const before = await this.ctx.db.selectFrom('nodes').selectAll().where('id', '=', nodeId).executeTakeFirst();
    if (!before) throw new NotFoundError('node', nodeId);
    const pre = await this.preflight(requestOrigin);
    const expected = req.hostKeySha256
      ? { sha256: req.hostKeySha256, from: 'the key given with the request' }
      : before.ssh_host_key_sha256
        ? { sha256: before.ssh_host_key_sha256, from: 'the key stored when this node was first provisioned' }
        : null;
    const now = this.ctx.now().toISOString();
    const run = this.newRun(nodeId, 'reprovision', req.ssh, actor, now);
    const streams = await this.ctx.db
      .selectFrom('route_listens')
      .innerJoin('routes', 'routes.id', 'route_listens.route_id')
      .select(['route_listens.port', 'route_listens.protocol'])
      .where('route_listens.node_id', '=', nodeId)
      .where('routes.enabled', '=', 1)
      .execute();
    await this.ctx.db.transaction().execute(async (trx) => {
      await trx.updateTable('nodes').set({ status: 'provisioning', last_error: null, updated_at: now }).where('id', '=', nodeId).execute();
      await this.store.insert(run, trx);
      await audit(trx, this.ctx, actor, 'provision', 'node', nodeId, { status: before.status }, { status: 'provisioning', target: run.meta.target, reprovision: true });
    });
    this.ctx.events.emit('node', nodeId);
    this.start(run, req.ssh, randomSecret('cfa'), pre, expected, streams.map((s) => `${s.port}/${s.protocol}`));
    const node = await this.ctx.db.selectFrom('nodes').selectAll().where('id', '=', nodeId).executeTakeFirstOrThrow();
    return { node: nodeToApi(node), job: run.snapshot() };
  }

  /** The running job of a node, else its last one from the database. */
  async latest(nodeId: string): Promise<ProvisionJob> {
    const active = this.active.get(nodeId);
    if (active) return active.run.snapshot();
    const job = await this.store.latest(nodeId);
    if (job) return job;
    const node = await this.ctx.db.selectFrom('nodes').select('id').where('id', '=', nodeId).executeTakeFirst();
    if (!node) throw new NotFoundError('node', nodeId);
    throw new AppError(404, 'not_found', `node ${nodeId} was never provisioned over SSH`);
  }

  /** The live run of a node, for a stream to follow; null when none is running. */
  liveRun(nodeId: string): JobRun | null {
    return this.active.get(nodeId)?.run ?? null;
  }

  /** Stops a node's running job (its SSH connection is closed) and waits for it to wind down. */
  async cancel(nodeId: string): Promise<void> {
    const a = this.active.get(nodeId);
    if (!a) return;
    a.cancel();
    await a.done;
  }

  async close(): Promise<void> {
    await Promise.all([...this.active.keys()].map((id) => this.cancel(id)));
  }

  private newRun(nodeId: string, kind: 'provision' | 'reprovision', ssh: SshCredentials, actor: Actor, now: string): JobRun {
    const run = new JobRun({ id: newId('prov'), nodeId, kind, target: `${ssh.user}@${ssh.host}:${ssh.port}`, startedAt: now, createdBy: actor.label });
    run.addSecret(ssh.password);
    run.addSecret(ssh.passphrase);
    run.addSecret(ssh.privateKey);
    return run;
  }

  private waitConnected(nodeId: string, sinceMs: number, timeoutMs: number): Promise<void> {
    if ((this.connectedAt.get(nodeId) ?? 0) >= sinceMs) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.connectWaiters.delete(waiter);
      };
      const waiter = (id: string) => {
        if (id !== nodeId || (this.connectedAt.get(nodeId) ?? 0) < sinceMs) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`the agent did not connect within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.connectWaiters.add(waiter);
    });
  }

  private start(
    run: JobRun,
    creds: SshCredentials,
    agentKey: string,
    pre: { controllerUrl: string; agent: Artifact; caddy: Artifact | null },
    expectedHostKey: StepEnv['expectedHostKey'],
    streamPorts: string[],
  ): void {
    run.addSecret(agentKey);
    const nodeId = run.meta.nodeId;
    const db = this.ctx.db;
    const env: StepEnv = {
      job: run,
      kind: run.meta.kind,
      nodeId,
      controllerUrl: pre.controllerUrl,
      agentKey,
      agentArtifact: pre.agent,
      caddyArtifact: pre.caddy,
      streamPorts,
      expectedHostKey,
      session: null,
      sshPort: creds.port,
      controllerIp: null,
      staging: null,
      caddyBin: PACKAGE_CADDY_BIN,
      commitAgentKey: async () => {
        await db
          .updateTable('nodes')
          .set({ agent_key_hash: sha256(agentKey), revoked_at: null, updated_at: this.ctx.now().toISOString() })
          .where('id', '=', nodeId)
          .execute();
      },
      waitConnected: (since, timeoutMs) => this.waitConnected(nodeId, since, timeoutMs),
      recordHostKey: async (sha) => {
        run.hostKeySha256 = sha;
        await db.updateTable('nodes').set({ ssh_host_key_sha256: sha }).where('id', '=', nodeId).execute();
        this.ctx.events.emit('node', nodeId);
      },
    };
    const active: Active = {
      run,
      cancelled: false,
      cancel: () => {
        active.cancelled = true;
        env.session?.close();
      },
      done: Promise.resolve(),
    };
    this.active.set(nodeId, active);
    const persist = () => this.store.save(run).catch((err: unknown) => this.log.error({ err, node: nodeId }, 'could not save the provisioning log'));
    const ticker = setInterval(() => void persist(), PERSIST_EVERY_MS);
    this.log.info({ node: nodeId, job: run.meta.id, kind: run.meta.kind, target: run.meta.target }, 'provisioning started');
    active.done = runSteps(run, env, buildSteps(creds), () => active.cancelled, persist)
      .then((outcome) => this.finish(run, outcome.ok, outcome.error))
      .catch((err: unknown) => this.log.error({ err, node: nodeId }, 'provisioning bookkeeping failed'))
      .finally(() => {
        clearInterval(ticker);
        this.active.delete(nodeId);
        this.connectedAt.delete(nodeId);
      });
  }

  private async finish(run: JobRun, ok: boolean, error: string | null): Promise<void> {
    const nodeId = run.meta.nodeId;
    const now = this.ctx.now().toISOString();
    run.finish(ok ? 'succeeded' : 'failed', error, now);
    await this.store.save(run);
    await this.store.prune(nodeId);
    if (ok) {
      // The hub marked the node online when the agent said hello; only a row still saying provisioning is fixed up.
      await this.ctx.db.updateTable('nodes').set({ status: 'online', updated_at: now }).where('id', '=', nodeId).where('status', '=', 'provisioning').execute();
    } else {
      const tail = run.lastLines(LAST_LINES_IN_ERROR).map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
      const lastError = run.mask(`provisioning failed at ${error ?? 'an unknown step'}\n${tail.join('\n')}`).slice(0, 4000);
      await this.ctx.db.updateTable('nodes').set({ status: 'error', last_error: lastError, updated_at: now }).where('id', '=', nodeId).execute();
    }
    this.log.info({ node: nodeId, job: run.meta.id, ok, error: run.error }, ok ? 'provisioning succeeded' : 'provisioning failed');
    this.ctx.events.emit('node', nodeId);
  }
}
