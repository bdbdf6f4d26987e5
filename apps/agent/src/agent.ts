/**
 * Wires the agent together. Start-up order matters: the local API socket is taken first (it is the lock that
 * keeps a second agent off the same state dir and its Caddy), then Caddy is started and given the last applied
 * config from disk, so the node serves before (and regardless of) reaching the controller; the controller
 * connection comes last.
 */
import type { Logger } from 'pino';
import { CaddyAdmin, parseAdminEndpoint, type BuildOptions } from '@caddyfleet/caddy';
import { PROTOCOL_VERSION } from '@caddyfleet/protocol';
import { Applier, type AckFrame } from './apply';
import { Backoff } from './backoff';
import { ManagedCaddy } from './caddy-process';
import { probeCaddy } from './caddy-probe';
import { countCertificates } from './certs';
import { ControllerConnection } from './connection';
import { DriftChecker } from './drift';
import { enroll, reportableHostname } from './enroll';
import { AgentConfigError, errorMessage } from './errors';
import { CaddyRejectedError, startLocalApi, type LocalApiServer } from './local-api';
import { LocalRouteStore } from './local-routes';
import { createLogger } from './logger';
import { localToRoute } from './merge';
import type { AgentOptions } from './options';
import { StateStore, type AgentState, type StoredLocalRoute } from './state';
import type { AgentStatusSnapshot, LocalRouteAddResult, LocalRouteView } from './status';
import { AGENT_VERSION } from './version';

export interface LocalRoutesApi {
  list(): LocalRouteView[];
  /** Validates, stores and applies a local route; rejects with LocalRouteInputError or CaddyRejectedError. */
  add(input: unknown): Promise<LocalRouteAddResult>;
  /** False when there is no such route. */
  remove(id: string): Promise<boolean>;
}

export interface RunningAgent {
  readonly nodeId: string;
  status(): AgentStatusSnapshot;
  readonly localRoutes: LocalRoutesApi;
  /** Stops the connection, drift checks, the local API and a managed Caddy (unless keepCaddy). Idempotent. */
  stop(): Promise<void>;
  /**
   * Resolves when the agent cannot go on: its key was revoked or rejected (`reason` says what to do), a
   * managed Caddy keeps crashing, or stop() was called (`reason` 'stopped'). Call stop() after it resolves.
   */
  readonly done: Promise<{ reason: string }>;
}

export interface AgentHooks {
  /** Logger to use instead of a new pino logger on stderr (tests, or an embedding process). */
  logger?: Logger;
  /**
   * Credentials to use instead of agent.json and enrollment: the in-process agent of `standalone` mode, whose
   * key is issued at every start. Not written to disk. `opts.controller` is required with them.
   */
  credentials?: { nodeId: string; agentKey: string };
}

/** Caddy's own spelling of an admin address, so the configs we load keep Caddy listening where we reach it. */
function adminListenOf(target: string): string {
  const endpoint = parseAdminEndpoint(target);
  if ('socketPath' in endpoint) return `unix/${endpoint.socketPath}`;
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

async function identify(opts: AgentOptions, state: StateStore, hooks: AgentHooks, log: Logger, stopped: () => boolean): Promise<AgentState> {
  if (hooks.credentials) {
    if (!opts.controller) throw new AgentConfigError('a controller URL is required with explicit credentials');
    return { controller: opts.controller, ...hooks.credentials };
  }
  const saved = await state.readAgent();
  if (saved) {
    if (opts.token) log.info({ nodeId: saved.nodeId }, `already enrolled as node ${saved.nodeId}; the enrollment token is not needed and was not used`);
    if (opts.controller && opts.controller !== saved.controller) {
      // Same key, new address (the controller moved): follow the operator and remember it.
      log.warn({ was: saved.controller, now: opts.controller }, 'controller URL differs from the one in agent.json; using and saving the new one');
      const moved = { ...saved, controller: opts.controller };
      await state.writeAgent(moved);
      return moved;
    }
    return saved;
  }
  if (!opts.controller) {
    throw new AgentConfigError(`this agent is not enrolled yet (no ${state.agentFile}): --controller (CADDYFLEET_CONTROLLER) is required`);
  }
  if (!opts.token) {
    throw new AgentConfigError(`this agent is not enrolled yet (no ${state.agentFile}): --token (CADDYFLEET_ENROLLMENT_TOKEN) is required to enroll`);
  }
  const enrolled = await enroll(
    { controller: opts.controller, token: opts.token, name: opts.name, hostname: reportableHostname() },
    { log, backoff: new Backoff(opts.reconnectMinMs, opts.reconnectMaxMs), isStopped: stopped },
  );
  const identity = { controller: opts.controller, ...enrolled };
  await state.writeAgent(identity);
  return identity;
}

export async function startAgent(opts: AgentOptions, hooks: AgentHooks = {}): Promise<RunningAgent> {
  const log = hooks.logger ?? createLogger(opts.logLevel);
  const state = new StateStore(opts.stateDir);
  await state.init();
  let stopping = false;
  const identity = await identify(opts, state, hooks, log, () => stopping);
  if (!isLoopbackUrl(identity.controller) && identity.controller.startsWith('http:')) {
    log.warn({ controller: identity.controller }, 'the controller URL is plain http: the agent key travels unencrypted');
  }

  // Caddy: managed (we start it, admin on a unix socket) or existing (we only talk to its admin API).
  let caddyInfo = { version: null as string | null, layer4: false };
  if (opts.caddyBin) {
    try {
      caddyInfo = await probeCaddy(opts.caddyBin);
    } catch (err) {
      throw new AgentConfigError(`--caddy-bin ${opts.caddyBin}: ${errorMessage(err)}`);
    }
  }

  let resolveDone: (v: { reason: string }) => void = () => {};
  const done = new Promise<{ reason: string }>((resolve) => (resolveDone = resolve));
  let doneReason: string | null = null;
  const finish = (reason: string) => {
    if (doneReason !== null) return;
    doneReason = reason;
    resolveDone({ reason });
  };

  // Late-bound: the applier's acks go to whatever connection exists when they are produced.
  let connection: ControllerConnection | null = null;
  let applier: Applier | null = null;
  const managed = opts.caddyBin
    ? new ManagedCaddy({
        bin: opts.caddyBin,
        dir: state.caddyDir,
        log: log.child({ component: 'caddy' }),
        onStarted: () => applier!.restore(),
        onGiveUp: (reason) => finish(reason),
      })
    : null;
  const admin = managed ? managed.admin : new CaddyAdmin(opts.caddyAdmin!);
  const adminListen = managed ? managed.adminListen : adminListenOf(opts.caddyAdmin!);

  const build: BuildOptions = {
    httpListen: opts.httpListen,
    httpsListen: opts.httpsListen,
    adminListen,
    layer4: caddyInfo.layer4,
    ...(managed ? { storageDir: managed.storageDir } : {}),
  };

  const localStore = new LocalRouteStore(state);
  await localStore.load();
  applier = new Applier({
    admin,
    build,
    state,
    localRoutes: () => localStore.list(),
    nodeId: identity.nodeId,
    log,
    onAck: (ack: AckFrame) => {
      connection?.send(ack);
      connection?.reportStatus();
    },
    onStartFailure: (error) => {
      if (managed) void managed.restart(`a refused config may have left listeners running: ${error}`);
      else log.warn('Caddy refused the config while starting listeners; Caddy versions affected by caddyserver/caddy#7175 may keep serving parts of it until restarted');
    },
  });
  await applier.init();
  const drift = new DriftChecker(applier, opts.driftCheckSeconds, log);

  let certCount = 0;
  const refreshCerts = async () => {
    certCount = managed ? await countCertificates(managed.storageDir) : 0;
    return certCount;
  };

  const view = (r: StoredLocalRoute): LocalRouteView => ({
    ...localToRoute(r, identity.nodeId),
    lastError: applier!.routeErrors.find((e) => e.routeId === r.id)?.error ?? null,
  });

  const localRoutes: LocalRoutesApi = {
    list: () => localStore.list().map(view),
    async add(input) {
      const route = await localStore.add(input);
      const outcome = await applier!.applyLocalChange();
      if (outcome.rejected) {
        // Caddy kept its previous config; keeping the route would leave a stored route that can never be served.
        await localStore.remove(route.id);
        throw new CaddyRejectedError(`Caddy rejected the config with this route (it was not added): ${outcome.error ?? 'unknown error'}`);
      }
      connection?.publishLocalRoutes();
      return { route: view(route), applied: outcome.ok, ...(outcome.ok ? {} : { error: outcome.error }) };
    },
    async remove(id) {
      if (!(await localStore.remove(id))) return false;
      const outcome = await applier!.applyLocalChange();
      if (!outcome.ok) log.warn({ id, error: outcome.error }, 'local route removed, but the new config is not applied yet');
      connection?.publishLocalRoutes();
      return true;
    },
  };

  const status = (): AgentStatusSnapshot => ({
    nodeId: identity.nodeId,
    name: opts.name,
    controller: identity.controller,
    connected: connection?.connected ?? false,
    lastConnectedAt: connection?.lastConnectedAt ?? null,
    controllerError: doneReason ?? connection?.lastError ?? null,
    caddy: {
      managed: managed !== null,
      adminListen,
      pid: managed?.pid ?? null,
      version: caddyInfo.version,
      layer4: caddyInfo.layer4,
      restarts: managed?.restarts ?? 0,
    },
    appliedRevision: applier!.appliedRevision,
    routeCount: applier!.served,
    certCount,
    localRouteCount: localStore.list().length,
    routeErrors: applier!.routeErrors,
    loadCount: applier!.loadCount,
    drift: { checks: drift.checks, repairs: drift.repairs, lastRepairAt: drift.lastRepairAt },
  });

  // --keep-caddy: an agent that is stopped leaves its Caddy serving for the next agent to adopt. One that ends
  // because it cannot go on (revoked, Caddy keeps crashing) takes its Caddy down, as before: no next agent will
  // look after it.
  const releaseCaddy = async () => {
    if (opts.keepCaddy && doneReason === null) managed?.detach();
    else await managed?.stop();
  };

  // Lock first, then Caddy, then the controller (see the file comment).
  let localApi: LocalApiServer | null = null;
  try {
    localApi = await startLocalApi(state.agentSocket, { ...localRoutes, status: async () => (await refreshCerts(), status()) }, log);
    if (managed) {
      await managed.start(); // runs applier.restore() once Caddy answers
    } else {
      if (!(await admin.ping())) log.warn({ admin: opts.caddyAdmin }, 'the existing Caddy does not answer yet; the config is applied when it does');
      await applier.restore();
    }
  } catch (err) {
    await localApi?.close().catch(() => {});
    await releaseCaddy().catch(() => {});
    throw err;
  }
  await refreshCerts();

  connection = new ControllerConnection({
    controller: identity.controller,
    agentKey: identity.agentKey,
    nodeId: identity.nodeId,
    log,
    backoff: new Backoff(opts.reconnectMinMs, opts.reconnectMaxMs),
    hello: () => {
      applier!.resetDesired();
      return {
        protocolVersion: PROTOCOL_VERSION,
        agentVersion: AGENT_VERSION,
        caddyVersion: caddyInfo.version,
        capabilities: { layer4: caddyInfo.layer4 },
        appliedRevision: applier!.appliedRevision,
      };
    },
    status: async () => ({
      routeCount: applier!.served,
      certCount: await refreshCerts(),
      caddyVersion: caddyInfo.version,
      appliedRevision: applier!.appliedRevision,
      drift: drift.takeDriftFlag(),
    }),
    localRoutes: () => localStore.list().map(({ createdAt: _c, updatedAt: _u, ...route }) => route),
    onSync: (frame) => {
      void applier!.applySync(frame).catch((err: unknown) => log.error({ err: errorMessage(err), revision: frame.revision }, 'sync failed'));
    },
    onDelta: (frame) => {
      const applying = applier!.applyDelta(frame);
      if (!applying) {
        log.warn({ have: applier!.desiredRevision, base: frame.base, revision: frame.revision }, 'delta does not apply to the routes received so far; asking for a full sync');
        connection?.send({ type: 'resync', revision: applier!.desiredRevision });
        return;
      }
      void applying.catch((err: unknown) => log.error({ err: errorMessage(err), revision: frame.revision }, 'delta failed'));
    },
  });
  void connection.revoked.then(({ reason }) => finish(reason));
  connection.start();
  drift.start();
  log.info(
    { nodeId: identity.nodeId, controller: identity.controller, caddy: caddyInfo.version ?? 'existing', http: opts.httpListen, https: opts.httpsListen },
    'agent started',
  );

  let stopped: Promise<void> | null = null;
  return {
    nodeId: identity.nodeId,
    status,
    localRoutes,
    done,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        await drift.stop();
        await connection?.stop();
        await applier!.persisted();
        await localApi?.close().catch(() => {});
        await releaseCaddy();
        log.info('agent stopped');
        finish('stopped');
      })();
      return stopped;
    },
  };
}
