/**
 * A TCP forwarder on 127.0.0.1 that notes when each connection is accepted and can cut every connection and
 * refuse new ones for a while: the benchmark's way to make an agent reconnect at a moment it chooses and to
 * know exactly when the new connection started.
 */
import net from 'node:net';

export class Forwarder {
  /** Date.now() of every accepted (forwarded) connection. */
  readonly accepts: number[] = [];
  private readonly sockets = new Set<net.Socket>();
  private refusing = false;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<Forwarder> {
    let self: Forwarder | null = null;
    const server = net.createServer((client) => {
      const f = self!;
      if (f.refusing) return void client.destroy();
      f.accepts.push(Date.now());
      const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
      f.sockets.add(client).add(upstream);
      const end = () => {
        client.destroy();
        upstream.destroy();
        f.sockets.delete(client);
        f.sockets.delete(upstream);
      };
      client.pipe(upstream).on('error', end);
      upstream.pipe(client).on('error', end);
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
    });
    self = new Forwarder(server, (server.address() as net.AddressInfo).port);
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Destroys every forwarded connection and refuses new ones until open(). */
  cut(): void {
    this.refusing = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  open(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
