/**
 * Upstreams and clients for stream (layer 4) tests, all on 127.0.0.1: a TCP echo, a UDP echo, a TLS server that
 * greets with its label, and a TCP server that records the PROXY protocol header it was sent. Every client call
 * has a deadline.
 */
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';

export interface StreamServer {
  port: number;
  close(): Promise<void>;
}

function closeTcp(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

function track(server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  return sockets;
}

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** Echoes every chunk back as `<label>:<chunk>`. */
export async function tcpEcho(label: string): Promise<StreamServer> {
  const server = net.createServer((s) => s.on('data', (d) => s.write(`${label}:${d.toString()}`)));
  const sockets = track(server);
  const port = await listen(server);
  return { port, close: () => closeTcp(server, sockets) };
}

/** Answers every datagram with `<label>:<datagram>`. */
export async function udpEcho(label: string): Promise<StreamServer> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, from) => socket.send(`${label}:${msg.toString()}`, from.port, from.address));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { port: socket.address().port, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

/** A self-signed certificate for `name` (openssl), for TLS upstreams behind a passthrough stream. */
export function selfSigned(dir: string, name: string): { key: string; cert: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', key, '-out', cert,
  ], { stdio: 'ignore', timeout: 20_000 });
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

/** A TLS server that sends `<label>` once the handshake is done, and records the server names it was asked for. */
export async function tlsGreeter(label: string, creds: { key: string; cert: string }): Promise<StreamServer & { servernames: string[] }> {
  const servernames: string[] = [];
  const server = tls.createServer({ ...creds }, (s) => {
    servernames.push(String(s.servername));
    s.end(label);
  });
  const sockets = track(server);
  const port = await listen(server);
  return { port, servernames, close: () => closeTcp(server, sockets) };
}

/** A TCP server that keeps the first bytes of each connection (the PROXY header, if any) and answers `ok`. */
export async function proxyHeaderRecorder(): Promise<StreamServer & { received: Buffer[] }> {
  const received: Buffer[] = [];
  const server = net.createServer((s) => {
    s.once('data', (d) => {
      received.push(d);
      s.end('ok');
    });
  });
  const sockets = track(server);
  const port = await listen(server);
  return { port, received, close: () => closeTcp(server, sockets) };
}

function deadline<T>(ms: number, what: string, fn: (done: (v: T) => void, fail: (e: Error) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let cleanup = () => {};
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: nothing within ${ms} ms`));
    }, ms);
    cleanup = fn(
      (v) => {
        clearTimeout(timer);
        cleanup();
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        cleanup();
        reject(e);
      },
    );
  });
}

/** Connects to 127.0.0.1:port, sends `payload`, resolves with the first chunk answered (and the client's port). */
export function tcpExchange(port: number, payload: string, host = '127.0.0.1', timeoutMs = 3000): Promise<{ reply: string; localPort: number }> {
  return deadline(timeoutMs, `tcp ${host}:${port}`, (done, fail) => {
    const s = net.connect({ host, port });
    s.on('connect', () => s.write(payload));
    s.on('data', (d) => done({ reply: d.toString(), localPort: s.localPort ?? 0 }));
    s.on('error', fail);
    s.on('close', () => fail(new Error(`tcp ${host}:${port}: closed without an answer`)));
    return () => s.destroy();
  });
}

/** Sends one datagram to 127.0.0.1:port and resolves with the first datagram that comes back. */
export function udpExchange(port: number, payload: string, host = '127.0.0.1', timeoutMs = 2000): Promise<string> {
  return deadline(timeoutMs, `udp ${host}:${port}`, (done, fail) => {
    const s = dgram.createSocket('udp4');
    s.on('message', (m) => done(m.toString()));
    s.on('error', fail);
    s.send(payload, port, host);
    return () => s.close();
  });
}

/**
 * TLS client with SNI `servername` (certificate not verified: the upstreams are self-signed); resolves with what the
 * server sent and its certificate's CN, rejects when the connection closes before the handshake.
 */
export function tlsRead(port: number, servername: string, host = '127.0.0.1', timeoutMs = 3000): Promise<{ text: string; peerCN: string }> {
  return deadline(timeoutMs, `tls ${host}:${port} (${servername})`, (done, fail) => {
    const chunks: Buffer[] = [];
    let peerCN: string | null = null;
    const s = tls.connect({ host, port, servername, rejectUnauthorized: false });
    s.on('secureConnect', () => (peerCN = String(s.getPeerCertificate().subject?.CN ?? '')));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => {
      if (peerCN === null) fail(new Error(`tls ${host}:${port} (${servername}): closed before the handshake`));
      else done({ text: Buffer.concat(chunks).toString(), peerCN });
    });
    s.on('error', fail);
    return () => s.destroy();
  });
}

/** Retries `fn` (bounded: `attempts` x `delayMs`) until it resolves: Caddy binds listeners right after /load. */
export async function retry<T>(fn: () => Promise<T>, attempts = 30, delayMs = 100): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
  throw last;
}
