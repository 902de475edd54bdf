/**
 * A tiny L4 (TCP) round-robin balancer for the simulation, standing in for the L4 balancer in front
 * of several hub processes (docs/scale.md). TLS passes through untouched (the nodes' mutual TLS ends
 * at the hub). A backend that refuses a connection is marked down and the connection is tried on
 * the next one, as a balancer's health check would; connections already open to a killed hub are
 * reset, and the nodes retry (store-and-forward).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Backend {
  host: string;
  port: number;
  down: boolean;
}

export class RoundRobinBalancer {
  readonly backends: Backend[];
  private next = 0;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(targets: readonly { host: string; port: number }[]) {
    this.backends = targets.map((t) => ({ ...t, down: false }));
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.port = (server.address() as { port: number }).port;
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private accept(client: Socket): void {
    this.track(client);
    client.pause();
    client.on('error', () => client.destroy());
    this.dial(client, 0);
  }

  /** Tries the backends in turn from the next one; the client is reset when none answers. */
  private dial(client: Socket, tried: number): void {
    const live = this.backends.filter((b) => !b.down);
    if (tried >= this.backends.length || live.length === 0) {
      client.destroy();
      return;
    }
    const b = this.backends[this.next++ % this.backends.length]!;
    if (b.down) {
      this.dial(client, tried + 1);
      return;
    }
    const upstream = connect(b.port, b.host);
    this.track(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      upstream.pipe(client);
      client.pipe(upstream);
      client.resume();
      upstream.once('close', () => client.destroy());
      client.once('close', () => upstream.destroy());
    });
    upstream.on('error', () => {
      if (connected) {
        client.destroy();
        return;
      }
      b.down = true;
      this.dial(client, tried + 1);
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
