import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { ensureLocalNode } from './bootstrap';
import { splitListen, type ControllerConfig } from './config';
import { openDatabase, type OpenDatabase } from './db/connect';
import { DatabaseHealth } from './db/health';
import { migrate } from './db/migrate';
import { buildApp } from './http/app';
import { AgentHub } from './hub/agent-hub';
import { createServices, type Services } from './services';
import type { FleetEvents, ServiceContext } from './services/context';

export interface RunningController {
  app: FastifyInstance;
  hub: AgentHub;
  services: Services;
  store: OpenDatabase;
  config: ControllerConfig;
  /** Base URL, e.g. http://127.0.0.1:8080 (the port actually bound when 0 was asked for). */
  url: string;
  /** The admin password generated on first start, when none was configured; null otherwise. */
  generatedAdminPassword: string | null;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Do not bind a port; tests drive the app with `inject`. */
  listen?: boolean;
  /** Where to print the generated admin password; defaults to stdout. */
  announce?: (line: string) => void;
  /** Where log lines go; defaults to pino's stdout. */
  logDestination?: pino.DestinationStream;
}

export async function startController(config: ControllerConfig, opts: StartOptions = {}): Promise<RunningController> {
  const logOptions = { level: config.logLevel, base: { svc: 'controller' } };
  const log = opts.logDestination ? pino(logOptions, opts.logDestination) : pino(logOptions);
  // Set once the health tracker exists; a connection breaking during migrations only needs to be logged.
  let onConnectionError = (err: Error) => log.warn({ err: err.message }, 'database connection lost');
  const store = openDatabase({ ...config, onConnectionError: (err) => onConnectionError(err), onNotice: (m) => log.warn(m) });
  try {
    await migrate(store, (m) => log.info(m));
  } catch (err) {
    await store.close();
    throw err;
  }
  const health = new DatabaseHealth(store, log);
  onConnectionError = (err) => {
    log.warn({ err: err.message }, 'database connection lost');
    health.observe(err);
  };
  const ctx: ServiceContext = { db: store.db, dialect: store.dialect, events: new EventEmitter<FleetEvents>(), health, now: () => new Date(), localNodeEnabled: config.localNode, routesPerNode: config.maxRoutesPerNode };
  ctx.events.setMaxListeners(0);
  const services = createServices(ctx, config, { publicUrl: config.publicUrl ?? null, agentArtifact: config.agentArtifact, caddyArtifact: config.caddyArtifact ?? null }, log);
  await ensureLocalNode(ctx);
  await services.provisioning.init();
  const admin = await services.auth.ensureAdmin(config.adminPassword);
  if (admin.generatedPassword) {
    const announce = opts.announce ?? ((l: string) => process.stdout.write(l + '\n'));
    announce(`caddyfleet: created user "admin" with generated password: ${admin.generatedPassword}`);
    announce('caddyfleet: this password is shown only once; set CADDYFLEET_ADMIN_PASSWORD to choose your own on a fresh data dir.');
  }
  const prune = () =>
    services.auditRetention
      .prune()
      .then(({ expired, overCap }) => {
        if (expired + overCap) log.info({ expired, overCap }, 'pruned the audit log');
      })
      .catch((err: unknown) => log.warn({ err }, 'could not prune the audit log'));
  await prune();
  const pruneTimer = setInterval(() => void prune(), 3_600_000);
  pruneTimer.unref();
  const { app, metrics } = buildApp(services, config, log);
  const hub = new AgentHub(services, log, { heartbeatSeconds: config.heartbeatSeconds, offlineAfterMissed: config.offlineAfterMissed });
  await hub.resetStatuses();
  hub.attach(app.server);
  metrics.sources.push(() => hub.metrics());
  let url = '';
  if (opts.listen !== false) {
    const { host, port } = splitListen(config.listen);
    await app.listen({ host, port });
    const addr = app.server.address();
    const bound = typeof addr === 'object' && addr ? addr.port : port;
    url = `http://${host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`;
  } else {
    await app.ready();
  }
  return {
    app,
    hub,
    services,
    store,
    config,
    url,
    generatedAdminPassword: admin.generatedPassword,
    async close() {
      await services.provisioning.close();
      health.close();
      clearInterval(pruneTimer);
      await hub.close();
      await app.close();
      await store.close();
    },
  };
}
