import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Received = { path: string; headers: IncomingHttpHeaders; body: string; at: number };
type Behaviour = {
  status: number;
  delayMs?: number;
  /** Answer this many requests of the path at once before `delayMs` applies (a sender sees a fast endpoint). */
  instantFirst?: number;
  headers?: Record<string, string>;
  body?: string;
};

/**
 * A loopback webhook receiver: records every request; answers per path with a programmable behaviour
 * (status, delay, headers). The only stand-in tests use for the outside world.
 */
export async function startReceiver() {
  const received: Received[] = [];
  const behaviours = new Map<string, Behaviour>();
  // Requests of a path that arrived and are not answered yet, and the most there ever were at once.
  const open = new Map<string, number>();
  const mostOpen = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body, at: Date.now() });
      const now = (open.get(path) ?? 0) + 1;
      open.set(path, now);
      mostOpen.set(path, Math.max(mostOpen.get(path) ?? 0, now));
      let closed = false;
      const done = () => {
        if (!closed) open.set(path, (open.get(path) ?? 1) - 1);
        closed = true;
      };
      res.on('close', done);
      const b = behaviours.get(path) ?? { status: 204 };
      const answer = () => {
        done();
        if (res.destroyed) return;
        res.writeHead(b.status, b.headers ?? {});
        res.end(b.body ?? '');
      };
      const nth = received.filter((r) => r.path === path).length;
      if (b.delayMs && nth > (b.instantFirst ?? 0)) setTimeout(answer, b.delayMs);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    received,
    at: (path: string) => received.filter((r) => r.path === path),
    /** The most requests of `path` the receiver held unanswered at one time: the sender's concurrency. */
    mostOpen: (path: string) => mostOpen.get(path) ?? 0,
    behave: (path: string, b: Behaviour) => behaviours.set(path, b),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
