/**
 * The webhook receiver of `bench/webhooks.ts`, run in its own process (`node --import tsx`, with an IPC
 * channel). A bare `node:http` server that answers every request with 204 as soon as its body has arrived,
 * and records, per request: the arrival time, the `webhook-id` header and the delivered body's `data.id`.
 *
 * Times are `performance.timeOrigin + performance.now()`: epoch milliseconds with sub-millisecond
 * resolution, comparable with the parent's clock (same machine, same wall clock).
 *
 * IPC, parent → child: `{ cmd: 'reset' }`, `{ cmd: 'stats' }`, `{ cmd: 'dump' }`, `{ cmd: 'waitFor', n }`
 * (answered once `n` requests have arrived since the last reset). Every answer echoes the request's `seq`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export type ReceiverStats = {
  count: number;
  unique: number;
  duplicates: number;
  first: number | null;
  last: number | null;
  /**
   * Connections that carried at least one request since the reset. A keep-alive client (undici) opens a new
   * connection only when all its open ones are busy, so this is the sender's peak concurrency.
   */
  connectionsUsed: number;
  /** Most requests between their first byte and their answer at once (1 when the receiver keeps up). */
  maxInFlight: number;
  /** Requests whose body was not JSON with `data.id`, or that had no `webhook-id`. */
  malformed: number;
};

export type ReceiverDump = { times: number[]; dataIds: (string | null)[] };

export type ReceiverRequest =
  { seq: number; cmd: 'reset' | 'stats' | 'dump' } | { seq: number; cmd: 'waitFor'; n: number };
export type ReceiverAnswer =
  { seq: number; stats?: ReceiverStats; dump?: ReceiverDump } | { ready: true; port: number };

const now = () => performance.timeOrigin + performance.now();

let times: number[] = [];
let dataIds: (string | null)[] = [];
let seen = new Set<string>();
let duplicates = 0;
let malformed = 0;
let used = new WeakSet<Socket>();
let connectionsUsed = 0;
let inFlight = 0;
let maxInFlight = 0;
let waiters: { n: number; seq: number }[] = [];
const sockets = new Set<Socket>();

function stats(): ReceiverStats {
  return {
    count: times.length,
    unique: seen.size,
    duplicates,
    first: times[0] ?? null,
    last: times.at(-1) ?? null,
    connectionsUsed,
    maxInFlight,
    malformed,
  };
}

function send(message: ReceiverAnswer): void {
  process.send?.(message);
}

function record(req: IncomingMessage, body: string, at: number): void {
  const eventId = req.headers['webhook-id'];
  let dataId: string | null = null;
  try {
    const parsed = JSON.parse(body) as { data?: { id?: unknown } };
    if (typeof parsed.data?.id === 'string') dataId = parsed.data.id;
  } catch {
    // Counted as malformed below.
  }
  if (typeof eventId !== 'string' || dataId === null) malformed++;
  if (typeof eventId === 'string') {
    if (seen.has(eventId)) duplicates++;
    else seen.add(eventId);
  }
  times.push(at);
  dataIds.push(dataId);
  if (waiters.length && waiters.some((w) => times.length >= w.n)) {
    const done = waiters.filter((w) => times.length >= w.n);
    waiters = waiters.filter((w) => times.length < w.n);
    for (const w of done) send({ seq: w.seq, stats: stats() });
  }
}

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  inFlight++;
  if (inFlight > maxInFlight) maxInFlight = inFlight;
  if (!used.has(req.socket)) {
    used.add(req.socket);
    connectionsUsed++;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = now();
    res.writeHead(204);
    res.end();
    inFlight--;
    record(req, Buffer.concat(chunks).toString('utf8'), at);
  });
});
server.keepAliveTimeout = 72_000;
server.on('connection', (socket: Socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
});

process.on('message', (raw: ReceiverRequest) => {
  switch (raw.cmd) {
    case 'reset':
      times = [];
      dataIds = [];
      seen = new Set();
      duplicates = 0;
      malformed = 0;
      used = new WeakSet();
      connectionsUsed = 0;
      maxInFlight = 0;
      waiters = [];
      send({ seq: raw.seq, stats: stats() });
      break;
    case 'stats':
      send({ seq: raw.seq, stats: stats() });
      break;
    case 'dump':
      send({ seq: raw.seq, dump: { times, dataIds } });
      break;
    case 'waitFor':
      if (times.length >= raw.n) send({ seq: raw.seq, stats: stats() });
      else waiters.push({ n: raw.n, seq: raw.seq });
      break;
  }
});

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const address = server.address();
  send({ ready: true, port: typeof address === 'object' && address ? address.port : 0 });
});

const stop = () => {
  server.close(() => process.exit(0));
  for (const s of sockets) s.destroy();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The parent went away (even by SIGKILL): do not outlive it.
process.on('disconnect', stop);
