/** Size limits shared by the API and the agent protocol; agents and API clients are untrusted. */
export const LIMITS = {
  /** Largest HTTP request body the controller will read. */
  apiBodyBytes: 256 * 1024,
  /** Largest WebSocket frame either side accepts. A full sync of a large node fits comfortably. */
  wsFrameBytes: 16 * 1024 * 1024,
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
