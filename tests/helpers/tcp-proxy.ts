/**
 * A TCP forwarder on 127.0.0.1 that can black-hole traffic without closing anything: the network failure where
 * a connection stays "open" on both ends but no byte gets through (a stuck NAT, a dead link, a frozen peer).
 *
 *   const proxy = await startTcpProxy({ port: controllerPort });   // listens on 127.0.0.1:<free port>
 *   proxy.pause();   // existing and new connections stay open, nothing is forwarded either way
 *   proxy.resume();  // bytes held back (in the kernel's buffers) flow again
 *   await proxy.close();
 *
 * Pausing stops reading from both sockets of every pair (socket.pause()), so held-back bytes stay in the
 * kernel's receive buffers, as with a link that drops packets and TCP retransmitting them later. A connection
 * accepted while paused is connected to the target but not forwarded until resume().
 * Only loopback: the target host must be in 127.0.0.0/8.
 */
import net from 'node:net';

export interface TcpProxyOptions {
  /** Target port (on `targetHost`). */
  port: number;
  /** Target host, 127.0.0.1 by default; must be a 127.0.0.0/8 address. */
  targetHost?: string;
  /** Address to listen on, 127.0.0.1 by default; port 0 (a free one) unless `listenPort` is given. */
  listenHost?: string;
  listenPort?: number;
}

export interface TcpProxy {
  /** Port the proxy listens on. */
  readonly port: number;
  /** `http://127.0.0.1:<port>`, handy as a controller URL. */
  readonly url: string;
  readonly paused: boolean;
  /** Connection pairs currently open. */
  readonly connections: number;
  /** Connections accepted since start. */
  readonly accepted: number;
  /** Stops forwarding on existing and new connections; closes nothing. */
  pause(): void;
  /** Forwards again, including what was held back. */
  resume(): void;
  /** Destroys every connection and stops listening; idempotent. */
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

export async function startTcpProxy(opts: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = opts.targetHost ?? '127.0.0.1';
  if (!/^127(?:\.\d{1,3}){3}$/.test(targetHost)) throw new Error(`tcp-proxy: target ${targetHost} is not a loopback address`);
  const listenHost = opts.listenHost ?? '127.0.0.1';
  const pairs = new Set<Pair>();
  let paused = false;
  let accepted = 0;

  const setFlow = (p: Pair) => {
    for (const s of [p.client, p.upstream]) {
      if (paused) s.pause();
      else s.resume();
    }
  };

  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    accepted++;
    const upstream = net.connect({ host: targetHost, port: opts.port });
    upstream.pause();
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // Manual forwarding (not pipe()): pipe() resumes a paused source on its own when the destination drains.
    const forward = (from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (!to.destroyed) to.write(chunk);
      });
      from.on('end', () => to.end());
      from.on('error', end);
      from.on('close', end);
    };
    forward(client, upstream);
    forward(upstream, client);
    upstream.once('connect', () => setFlow(pair));
    // Connected or not yet, a paused proxy does not read; setFlow also applies to the client side at once.
    if (!paused) client.resume();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: listenHost, port: opts.listenPort ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  let closing: Promise<void> | null = null;

  return {
    port,
    url: `http://${listenHost}:${port}`,
    get paused() {
      return paused;
    },
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    pause() {
      paused = true;
      for (const p of pairs) setFlow(p);
    },
    resume() {
      paused = false;
      for (const p of pairs) setFlow(p);
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const p of pairs) {
          p.client.destroy();
          p.upstream.destroy();
        }
        pairs.clear();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}
