/**
 * The fleet's nodes, kept current by the SSE feed: `node` events replace a node's row, `node-removed` drops it,
 * `revision` moves its desired revision. Shared by every page (one fetch, one stream).
 */
import { useSyncExternalStore } from 'react';
import { api, errorMessage } from '../api/client';
import { feed } from '../api/events';
import type { FleetNode } from '../api/types';

export interface LiveNodesState {
  nodes: FleetNode[] | null;
  error: string | null;
  loading: boolean;
}

let state: LiveNodesState = { nodes: null, error: null, loading: false };
const listeners = new Set<() => void>();
let unsubscribers: (() => void)[] = [];
let loadSeq = 0;

function set(next: Partial<LiveNodesState>): void {
  state = { ...state, ...next };
  for (const l of listeners) l();
}

function sortNodes(list: FleetNode[]): FleetNode[] {
  return [...list].sort((a, b) => Number(b.isLocal) - Number(a.isLocal) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

function isNode(v: unknown): v is FleetNode {
  return typeof v === 'object' && v !== null && typeof (v as FleetNode).id === 'string' && typeof (v as FleetNode).status === 'string';
}

export async function reloadNodes(): Promise<void> {
  const seq = ++loadSeq;
  set({ loading: true });
  try {
    const nodes = await api.get<FleetNode[]>('/nodes');
    if (seq === loadSeq) set({ nodes: sortNodes(nodes), error: null, loading: false });
  } catch (err) {
    if (seq === loadSeq) set({ error: errorMessage(err), loading: false });
  }
}

/**
 * Puts a node's row in place, e.g. the answer of `PATCH /nodes/:id` (a rename or a move to another site emits no
 * `node` event, so the page that made the change applies it).
 */
export function upsertNode(node: FleetNode): void {
  if (!isNode(node)) return;
  upsert(node);
}

function upsert(node: FleetNode): void {
  const list = state.nodes ?? [];
  const i = list.findIndex((n) => n.id === node.id);
  const next = i < 0 ? [...list, node] : list.map((n) => (n.id === node.id ? node : n));
  set({ nodes: sortNodes(next) });
}

/** Starts following the feed (after login). */
export function startLiveNodes(): void {
  if (unsubscribers.length) return;
  unsubscribers = [
    feed.on('node', (d) => {
      if (isNode(d)) upsert(d);
    }),
    feed.on('node-removed', (d) => {
      const id = (d as { id?: unknown }).id;
      if (typeof id === 'string' && state.nodes) set({ nodes: state.nodes.filter((n) => n.id !== id) });
    }),
    feed.on('revision', (d) => {
      const { nodeId, revision } = d as { nodeId?: unknown; revision?: unknown };
      if (typeof nodeId !== 'string' || typeof revision !== 'number' || !state.nodes) return;
      set({ nodes: state.nodes.map((n) => (n.id === nodeId && n.desiredRevision < revision ? { ...n, desiredRevision: revision } : n)) });
    }),
    feed.onOpen(() => void reloadNodes()),
  ];
  void reloadNodes();
}

export function stopLiveNodes(): void {
  for (const u of unsubscribers) u();
  unsubscribers = [];
  loadSeq++;
  state = { nodes: null, error: null, loading: false };
  for (const l of listeners) l();
}

/** The current list outside React (e.g. to snapshot which nodes exist when a subscription starts). */
export function liveNodesSnapshot(): FleetNode[] | null {
  return state.nodes;
}

function subscribe(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function useLiveNodes(): LiveNodesState & { reload: () => Promise<void>; byId: (id: string | null) => FleetNode | undefined } {
  const s = useSyncExternalStore(subscribe, () => state);
  return {
    ...s,
    reload: reloadNodes,
    byId: (id) => s.nodes?.find((n) => n.id === (id ?? 'local')),
  };
}
