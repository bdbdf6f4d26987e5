/**
 * Wires the agent together. Start-up order matters: the local API socket is taken first (it is the lock that
 * keeps a second agent off the same state dir and its Caddy), then Caddy is started and given the last applied
 * config from disk, so the node serves before (and regardless of) reaching the controller; the controller
 * connection comes last.
 */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { CaddyAdmin, parseAdminEndpoint, parseListenAddress, type BuildOptions } from '@caddyfleet/caddy';
import { PROTOCOL_VERSION } from '@caddyfleet/protocol';
import { Applier, type AckFrame } from './apply';
import { Backoff } from './backoff';
import { ManagedCaddy } from './caddy-process';
import { probeAdminLayer4, probeCaddy } from './caddy-probe';
import { CertificateReporter, CertificateScanner } from './certs';
import { ControllerConnection } from './connection';
import { DockerDiscovery } from './docker/discovery';
import { DriftChecker } from './drift';
import { AgentConfigError, errorMessage } from './errors';
import { enrollAndSave, identify } from './identity';
import { CaddyRejectedError, startLocalApi, type LocalApiServer } from './local-api';
import { LocalRouteStore } from './local-routes';
import { createLogger } from './logger';
import { localToRoute } from './merge';
import { dockerHostOf, type AgentOptions } from './options';
import { StateStore, type StoredLocalRoute } from './state';
import { UpstreamHealthMonitor } from './upstream-health';
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

export async function startAgent(opts: AgentOptions, hooks: AgentHooks = {}): Promise<RunningAgent> {
  const log = hooks.logger ?? createLogger(opts.logLevel);
  const state = new StateStore(opts.stateDir);
  await state.init();
  let stopping = false;
  const enrolledBefore = hooks.credentials !== undefined || (await state.readAgent()) !== null;
  let identity = await identify(opts, state, hooks, log, () => stopping);
  if (!isLoopbackUrl(identity.controller) && identity.controller.startsWith('http:')) {
    log.warn({ controller: identity.controller }, 'the controller URL is plain http: the agent key travels unencrypted');
  }

  // Caddy: managed (we start it, admin on a unix socket) or existing (we only talk to its admin API).
  let caddyInfo: { version: string | null; modules: string[] | null } = { version: null, modules: null };
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
  // From the module list of the Caddy it runs; an existing Caddy's admin API lists none, so it is probed (and its
  // modules stay unknown to the controller).
  const layer4 = caddyInfo.modules ? caddyInfo.modules.includes('layer4') : await probeAdminLayer4(admin);
  if (!managed) log.info({ admin: opts.caddyAdmin, layer4 }, 'probed the existing Caddy for the layer4 app (its other modules stay unknown)');

  const build: BuildOptions = {
    httpListen: opts.httpListen,
    httpsListen: opts.httpsListen,
    adminListen,
    layer4,
    ...(managed ? { storageDir: managed.storageDir } : {}),
  };

  const localStore = new LocalRouteStore(state);
  await localStore.load();

  const dockerHost = dockerHostOf(opts, existsSync);
  const discovery = dockerHost
    ? new DockerDiscovery({
        host: dockerHost,
        prefix: opts.dockerLabelPrefix,
        state,
        log: log.child({ component: 'docker' }),
        identity: () => ({ nodeId: identity.nodeId, nodeName: opts.name, hostIp: opts.hostIp ?? connection?.localAddress ?? null }),
        onChange: () => {
          connection?.publishDockerRoutes();
          applier!.applyLocalChange().then(
            (outcome) => {
              if (!outcome.ok) log.warn({ error: outcome.error }, 'Docker routes changed, but the new config is not applied yet');
            },
            (err: unknown) => log.error({ err: errorMessage(err) }, 'applying Docker routes failed'),
          );
        },
      })
    : null;
  await discovery?.init();

  applier = new Applier({
    admin,
    build,
    state,
    localRoutes: () => localStore.list(),
    dockerEntries: () => discovery?.localEntries() ?? [],
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

  // Only a managed Caddy's storage is known; an existing Caddy keeps its certificates where it was told to.
  const certs = new CertificateReporter(managed ? new CertificateScanner(managed.storageDir) : null, () => connection);
  const upstreamHealth = new UpstreamHealthMonitor({ admin, config: () => applier!.expectedConfig, loads: () => applier!.loadCount, connection: () => connection, log });

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
      layer4,
      restarts: managed?.restarts ?? 0,
    },
    appliedRevision: applier!.appliedRevision,
    routeCount: applier!.served,
    certCount: certs.count,
    localRouteCount: localStore.list().length,
    routeErrors: applier!.routeErrors,
    loadCount: applier!.loadCount,
    drift: { checks: drift.checks, repairs: drift.repairs, lastRepairAt: drift.lastRepairAt },
    docker: discovery
      ? {
          ...discovery.status(),
          routes: applier!.dockerRoutes.map((v) => ({
            id: v.id,
            domains: v.domains,
            upstreams: v.upstreams,
            served: v.served,
            problems: v.problems,
            containers: v.entries.map((e) => `${e.containerName}@${e.sourceNodeName}`),
          })),
        }
      : null,
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
    localApi = await startLocalApi(state.agentSocket, { ...localRoutes, status: async () => (await certs.refresh(), status()) }, log);
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
  await certs.refresh();

  const connect = () =>
    new ControllerConnection({
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
          appliedRevision: applier!.appliedRevision,
          ...(caddyInfo.modules ? { caddyModules: caddyInfo.modules } : {}),
          listeners: { http: parseListenAddress(opts.httpListen).port, https: parseListenAddress(opts.httpsListen).port },
        };
      },
      status: async () => ({
        routeCount: applier!.served,
        certCount: await certs.refresh(),
        caddyVersion: caddyInfo.version,
        appliedRevision: applier!.appliedRevision,
        drift: drift.takeDriftFlag(),
      }),
      localRoutes: () => localStore.list().map(({ createdAt: _c, updatedAt: _u, ...route }) => route),
      // With discovery off an empty list is published, so the controller drops what an earlier run reported.
      dockerRoutes: () => (discovery ? discovery.entries() : []),
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
  // A refused key ends the agent, unless an enrollment token was given: then it is spent once to enroll this
  // host again (its node was deleted or revoked and the operator handed it a new token).
  let reenrolled = !enrolledBefore; // a token that enrolled this run is spent
  const watch = (conn: ControllerConnection) =>
    void conn.revoked.then(async ({ reason }) => {
      if (!opts.token || reenrolled || hooks.credentials || stopping) return finish(reason);
      reenrolled = true;
      log.warn({ nodeId: identity.nodeId, reason }, 'the controller refused this node\'s key; enrolling again with the given enrollment token');
      try {
        identity = await enrollAndSave(opts, identity.controller, opts.token, state, log, () => stopping);
      } catch (err) {
        return finish(`${reason}; enrolling again with the given token failed: ${errorMessage(err)}`);
      }
      if (stopping) return;
      applier!.nodeId = identity.nodeId;
      await applier!.applyLocalChange();
      connection = connect();
      watch(connection);
      connection.start();
    });
  connection = connect();
  watch(connection);
  connection.start();
  discovery?.start();
  drift.start();
  upstreamHealth.start();
  log.info(
    { nodeId: identity.nodeId, controller: identity.controller, caddy: caddyInfo.version ?? 'existing', http: opts.httpListen, https: opts.httpsListen },
    'agent started',
  );

  let stopped: Promise<void> | null = null;
  return {
    get nodeId() {
      return identity.nodeId;
    },
    status,
    localRoutes,
    done,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        managed?.prepareStop();
        await drift.stop();
        await upstreamHealth.stop();
        await discovery?.stop();
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
