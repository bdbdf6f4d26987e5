/** Size limits shared by the API and the agent protocol; agents and API clients are untrusted. */
export const LIMITS = {
  /** Largest HTTP request body the controller will read. */
  apiBodyBytes: 256 * 1024,
  /** Largest WebSocket frame either side accepts. A full sync of a large node fits comfortably. */
  wsFrameBytes: 16 * 1024 * 1024,
  /**
   * Largest frame the controller takes from an agent. Agents only send small frames and their local routes,
   * and one agent must not be able to hand the controller more work than a real host has.
   */
  agentFrameBytes: 4 * 1024 * 1024,
  /** Central routes one node may hold (a large host has hundreds). */
  routesPerNode: 2000,
  /** Routes one agent may publish as its own (local_only), and the domains they may have in total. */
  localRoutesPerFrame: 2000,
  localDomainsPerFrame: 10_000,
  name: 100,
  domainsPerRoute: 100,
  upstreamsPerRoute: 50,
  hostname: 253,
  url: 2048,
  password: 1024,
  /** Routes in one full `sync` frame (the frame size limit binds first for realistic routes). */
  routesPerSync: 100_000,
  /** Routes added, replaced or dropped by one `delta` frame; larger changes go out as a full sync. */
  routesPerDelta: 10_000,
} as const;
