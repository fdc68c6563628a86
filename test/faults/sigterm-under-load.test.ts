import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/lib/secret-token.js';
import { startLoad, within } from '../helpers/load.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

/** The worker's grace for sends in flight is 10 s; the whole drain must end well within this. */
const EXIT_WITHIN_MS = 30_000;
const HALF_SENT = 10;

/**
 * Sends `HALF_SENT` POSTs up to half their body now; `finish()` sends the rest and resolves with each raw
 * answer once the server closes the connection. A request half sent is certainly in flight.
 */
async function halfSentRequests(url: string, token: string) {
  const { hostname, port } = new URL(url);
  return Promise.all(
    Array.from({ length: HALF_SENT }, async (_, i) => {
      const body = JSON.stringify({ username: `inflight-${i}` });
      const socket = connect(Number(port), hostname);
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      socket.on('error', () => undefined);
      const closed = new Promise<string>((res) => socket.on('close', () => res(answer)));
      await new Promise<void>((res) => socket.on('connect', () => res()));
      socket.write(
        `POST /api/users HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`,
      );
      return { finish: () => (socket.write(body.slice(5)), closed) };
    }),
  );
}

/**
 * One GET on a fresh keep-alive connection: status, the `Connection` header and the body. The request asks
 * to keep the connection (`Connection: keep-alive`), so a `close` in the answer is the server's own.
 */
function rawGet(url: string): Promise<{ status: number; connection: string | undefined; body: string }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise<{ status: number; connection: string | undefined; body: string }>((res, rej) => {
    get(url, { agent }, (r) => {
      let body = '';
      r.on('data', (d: Buffer) => (body += d.toString()));
      r.on('end', () => res({ status: r.statusCode ?? 0, connection: r.headers.connection, body }));
    }).on('error', rej);
  }).finally(() => agent.destroy());
}

/**
 * SIGTERM under a load of writes while webhook deliveries are in flight: requests in flight finish (and what
 * was acknowledged is stored), the worker gives back the deliveries it leased (a send still running at the
 * end of its grace leaves its delivery `pending` and unleased, a finished one `succeeded`), and the process
 * exits 0 within a bounded time.
 */
describe('SIGTERM under load (SQLite)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-term-'));
  const admin = generateToken('gth');
  let server: ServerProcess;
  let rx: Receiver;
  let seq = 0;
  const call = (path: string, method = 'GET', body?: unknown) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    rx = await startReceiver();
    rx.behave('/slow', { status: 204, delayMs: 120_000 }); // still sending when the worker's grace ends
    rx.behave('/quick', { status: 204, delayMs: 500 });
    server = await startServer({ GATEHOUSE_BOOTSTRAP_TOKEN: admin }, 60_000, { dataDir });
    const generous = { max: 1_000_000, window_s: 60 };
    expect(
      (
        await call('/api/config', 'PATCH', {
          webhooks: { allow_private_targets: true },
          rate_limits: { default: generous },
        })
      ).status,
    ).toBe(200);
    for (const [path, timeout] of [
      ['/slow', 60],
      ['/quick', 10],
    ] as const) {
      expect(
        (
          await call('/api/webhooks', 'POST', {
            url: rx.url(path),
            events: ['user.create'],
            timeout_s: timeout,
          })
        ).status,
      ).toBe(201);
    }
  });
  afterAll(async () => {
    await server?.stop();
    await rx?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finishes requests in flight, reports draining, gives back leased deliveries, exits 0', async () => {
    const load = startLoad({
      baseUrl: () => server.url,
      workers: 6,
      token: admin,
      timeoutMs: EXIT_WITHIN_MS,
      next: (w) =>
        w < 4
          ? { method: 'POST', path: '/api/users', body: { username: `load-${(seq += 1)}` } }
          : { path: '/api/users?limit=5' },
    });
    let signalledAt = Infinity;
    try {
      // Deliveries are in flight at both endpoints, and writes are flowing.
      expect(
        await within(
          20_000,
          async () => rx.at('/slow').length >= 1 && rx.at('/quick').length >= 1 && load.outcomes.length >= 50,
        ),
      ).not.toBeNull();
      const inFlight = await halfSentRequests(server.url, admin);
      signalledAt = Date.now();
      process.kill(server.pid, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      const answers = await Promise.all(inFlight.map((r) => r.finish()));
      for (const a of answers) expect(a).toMatch(/^HTTP\/1\.1 201 /);
      // The worker's sends to /slow hold the drain open for its 10 s grace: meanwhile the instance tells load
      // balancers it is going (readiness 503) and closes every connection it answers on, but still answers.
      const ready = await rawGet(`${server.url}/readyz`);
      expect(ready).toEqual({ status: 503, connection: 'close', body: '{"status":"draining"}' });
      expect(await rawGet(`${server.url}/healthz`)).toMatchObject({ status: 200, connection: 'close' });

      const code = await Promise.race([
        server.exited,
        new Promise((r) => setTimeout(() => r('still running'), EXIT_WITHIN_MS)),
      ]);
      expect(code).toBe(0);
    } finally {
      await load.stop();
    }
    expect(server.output()).toMatch(/gave back its leased deliveries/);

    // Every request sent before the signal got an answer, and never a 500.
    const before = load.outcomes.filter((o) => o.startedAt < signalledAt);
    expect(before.filter((o) => o.status === 'error')).toEqual([]);
    for (const o of load.outcomes) expect([200, 201, 503, 'error']).toContain(o.status);

    const db = new Database(join(dataDir, 'gatehouse.db'), { readonly: true });
    try {
      // What was acknowledged is stored, each with its one audit event.
      const acknowledged = load.outcomes
        .filter((o) => o.status === 201)
        .map((o) => (o.body as { id: string }).id);
      const stored = new Set(
        db
          .prepare('select id from users')
          .all()
          .map((r) => (r as { id: string }).id),
      );
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
      const audited = db
        .prepare(
          "select target_id as id, count(*) as n from audit_events where action = 'user.create' and outcome = 'success' group by target_id",
        )
        .all() as { id: string; n: number }[];
      expect(audited.filter((r) => r.n !== 1)).toEqual([]);
      expect(new Set(audited.map((r) => r.id))).toEqual(stored);

      // No delivery is left leased to the stopped worker.
      const rows = db
        .prepare(
          'select d.status, d.lock_token, w.url from deliveries d join webhooks w on w.id = d.webhook_id',
        )
        .all() as { status: string; lock_token: string | null; url: string }[];
      expect(rows.filter((r) => r.status === 'delivering' || r.lock_token !== null)).toEqual([]);
      const slow = rows.filter((r) => r.url.endsWith('/slow'));
      expect(slow.length).toBeGreaterThan(0);
      expect(slow.every((r) => r.status === 'pending')).toBe(true); // released: the next worker sends them again
      expect(rows.filter((r) => r.url.endsWith('/quick') && r.status === 'succeeded').length).toBeGreaterThan(
        0,
      );
    } finally {
      db.close();
    }
  }, 90_000);
});
