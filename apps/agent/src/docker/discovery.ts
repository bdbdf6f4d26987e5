/**
 * Docker discovery inside the agent: the watcher's latest container list (kept in docker.json, so a restarted
 * agent serves what it served before Docker answers again), turned into entries on demand because what an
 * entry says depends on who this node is and on its host IP, which the controller connection may learn later.
 */
import Docker from 'dockerode';
import type { Logger } from 'pino';
import { DOCKER_LIMITS, type DockerEntry, type SourcedDockerEntry } from '@caddyfleet/protocol';
import { errorMessage } from '../errors';
import { stableStringify } from '../stable-json';
import type { StateStore } from '../state';
import type { DockerStatus } from '../status';
import { containerEntries, type DiscoveredContainer, type Identity } from './resolve';
import { DockerWatcher } from './watcher';

export interface DiscoveryOptions {
  host: string;
  prefix: string;
  state: StateStore;
  log: Logger;
  identity: () => Identity;
  /** The container list changed: re-render and publish. */
  onChange: () => void;
  throttleMs?: number;
  relistMs?: number;
}

/** dockerode's connection options for `unix:///path`, `/path`, `tcp://host:port` or `http://host:port`. */
export function dockerConnection(host: string): Docker.DockerOptions {
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host.startsWith('/')) return { socketPath: host };
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 2375), protocol: 'http' };
}

export class DockerDiscovery {
  private containers: DiscoveredContainer[] | null = null;
  private readonly watcher: DockerWatcher;
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly opts: DiscoveryOptions) {
    this.watcher = new DockerWatcher({
      docker: new Docker(dockerConnection(opts.host)),
      prefix: opts.prefix,
      log: opts.log,
      onSnapshot: (list) => this.onSnapshot(list),
      ...(opts.throttleMs !== undefined ? { throttleMs: opts.throttleMs } : {}),
      ...(opts.relistMs !== undefined ? { relistMs: opts.relistMs } : {}),
    });
  }

  /** Loads the containers of the last list from docker.json. */
  async init(): Promise<void> {
    this.containers = await this.opts.state.readDockerContainers();
  }

  start(): void {
    this.watcher.start();
    this.opts.log.info({ docker: this.opts.host, prefix: this.opts.prefix }, 'Docker discovery on');
  }

  stop(): Promise<void> {
    return this.watcher.stop().then(() => this.writes);
  }

  /** Every entry this node publishes; null while nothing is known (no list yet, nothing saved). */
  entries(): DockerEntry[] | null {
    if (this.containers === null) return null;
    const self = this.opts.identity();
    const out: DockerEntry[] = [];
    for (const c of this.containers) {
      for (const e of containerEntries(c, this.opts.prefix, self)) {
        if (out.length >= DOCKER_LIMITS.entriesPerNode) return out;
        out.push(e);
      }
    }
    return out;
  }

  /** The entries this node serves itself, in the merge's shape. */
  localEntries(): SourcedDockerEntry[] {
    const self = this.opts.identity();
    return (this.entries() ?? []).filter((e) => e.local).map((e) => ({ ...e, sourceNodeId: self.nodeId, sourceNodeName: self.nodeName }));
  }

  status(): DockerStatus {
    return {
      host: this.opts.host,
      prefix: this.opts.prefix,
      connected: this.watcher.connected,
      lastError: this.watcher.lastError,
      lastListAt: this.watcher.lastListAt,
      containers: this.containers?.length ?? 0,
      entries: this.entries() ?? [],
    };
  }

  private onSnapshot(list: DiscoveredContainer[]): void {
    if (this.containers !== null && stableStringify(list) === stableStringify(this.containers)) return;
    this.containers = list;
    this.opts.log.info({ containers: list.length }, 'labelled containers changed');
    this.writes = this.writes
      .then(() => this.opts.state.writeDockerContainers(list))
      .catch((err: unknown) => this.opts.log.error({ err: errorMessage(err) }, 'could not write docker.json'));
    this.opts.onChange();
  }
}
