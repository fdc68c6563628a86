import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/lib/secret-token.js';
import { createTestDatabase, dialects, type TestDatabase } from '../helpers/databases.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const UPDATES = 45;
/** How long the plugin takes to answer each after-hook call: a window for a second relay to overlap it. */
const ANSWER_MS = 150;

/**
 * Issue #17: two Gatehouse server processes and a `gatehouse worker` on one database run one plugin's
 * after-hooks one at a time. Every event reaches the plugin once, in `seq` order, and no two calls for it are
 * ever in flight at once; when a relay stops (SIGTERM), it gives its lease back and another carries on at
 * once, not after the lease would have run out; the worker, with no HTTP server, finishes. (A relay that dies
 * without stopping, or whose lease runs out mid-call, may send its last event again: at least once.)
 */
describe.each(dialects())('relays on one %s database', (dialect) => {
  let database: TestDatabase;
  let a: ServerProcess;
  let b: ServerProcess;
  let worker: ServerProcess;
  let receiver: Server;
  const admin = generateToken('gth');
  /** Every after-hook call's user display name, in arrival order. */
  const arrived: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () =>
        setTimeout(() => {
          inFlight -= 1;
          const event = (JSON.parse(body) as { event: { data: { display_name: string } } }).event;
          arrived.push(event.data.display_name);
          res.writeHead(204).end();
        }, ANSWER_MS),
      );
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    database = await createTestDatabase(dialect);
    const env = { DATABASE_URL: database.url, GATEHOUSE_BOOTSTRAP_TOKEN: admin };
    a = await startServer(env);
    b = await startServer(env);
    worker = await startServer(env, 60_000, { command: 'worker' });
  }, 150_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), worker?.stop()]);
    await database?.drop();
    await new Promise<void>((r) => receiver?.close(() => r()));
  });

  const call = async (server: ServerProcess, method: string, path: string, body: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    expect(res.status, text).toBeLessThan(300);
    return JSON.parse(text) as { id: string };
  };

  it('deliver each event once, in order, never two calls at once; a stopping relay hands over at once', async () => {
    await call(a, 'PATCH', '/api/config', { webhooks: { allow_private_targets: true } });
    const { port } = receiver.address() as AddressInfo;
    await call(a, 'POST', '/api/plugins', {
      kind: 'http',
      url: `http://127.0.0.1:${port}/after`,
      manifest: { name: 'relay-probe', version: '1.0.0', hooks: { after: ['user.update'] } },
    });
    await new Promise((r) => setTimeout(r, 2500)); // the others reload their plugins every 2 s
    const user = await call(b, 'POST', '/api/users', { username: 'relayed' });
    const names = Array.from({ length: UPDATES }, (_, i) => `n${i}`);
    for (const [i, name] of names.entries())
      await call(i % 2 ? a : b, 'PUT', `/api/users/${user.id}`, { display_name: name });

    // A third of the way, one server stops, then the other: the worker must go on, well within a lease.
    const until = (n: number, ms: number) => {
      const deadline = Date.now() + ms;
      return (async () => {
        while (arrived.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      })();
    };
    await until(UPDATES / 3, 20_000);
    expect(await a.stop()).toBe(0);
    await until((UPDATES * 2) / 3, 15_000);
    const stoppedAt = Date.now();
    expect(await b.stop()).toBe(0);
    await until(UPDATES, 15_000);
    expect(Date.now() - stoppedAt).toBeLessThan(15_000);

    expect(arrived).toEqual(names);
    expect(maxInFlight).toBe(1);
  }, 120_000);
});
