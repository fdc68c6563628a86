import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIds } from '../../src/lib/ids.js';
import { generateToken } from '../../src/lib/secret-token.js';
import { createTestDatabase, postgresServerUrl, type TestDatabase } from '../helpers/databases.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const EVENTS = 5000;

/**
 * Two workers (the one inside `serve` and a `gatehouse worker` process) on one PostgreSQL database deliver
 * 5,000 events: every event arrives, and no event is ever in flight at two workers at once.
 */
describe.runIf(postgresServerUrl())('two workers on PostgreSQL', () => {
  let database: TestDatabase;
  let serve: ServerProcess;
  let worker: ServerProcess;
  let receiver: Server;
  const admin = generateToken('gth');
  const inFlight = new Set<string>();
  const seen = new Map<string, number>();
  let concurrent = 0;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const id = String(req.headers['webhook-id']);
      if (inFlight.has(id)) concurrent += 1;
      inFlight.add(id);
      req.resume();
      // A short wait widens the window in which a second worker could pick the same delivery.
      setTimeout(() => {
        inFlight.delete(id);
        seen.set(id, (seen.get(id) ?? 0) + 1);
        res.writeHead(204).end();
      }, 2);
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    database = await createTestDatabase('postgres');
    const env = { DATABASE_URL: database.url, GATEHOUSE_BOOTSTRAP_TOKEN: admin };
    serve = await startServer(env);
    worker = await startServer(env, 60_000, { command: 'worker' });
  }, 150_000);
  afterAll(async () => {
    await Promise.all([serve?.stop(), worker?.stop()]);
    await database?.drop();
    await new Promise<void>((r) => receiver?.close(() => r()));
  });

  it('delivers 5,000 events, none sent by both at once', async () => {
    const call = (path: string, method: string, body: unknown) =>
      fetch(`${serve.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await call('/api/config', 'PATCH', { webhooks: { allow_private_targets: true } })).status).toBe(
      200,
    );
    const { port } = receiver.address() as AddressInfo;
    expect(
      (await call('/api/webhooks', 'POST', { url: `http://127.0.0.1:${port}/bulk`, events: ['user.update'] }))
        .status,
    ).toBe(201);
    await new Promise((r) => setTimeout(r, 500));

    // 5,000 committed events, written straight into the outbox as a burst of changes would leave them.
    const ids = createIds();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const now = Date.now() + 1000;
    for (let batch = 0; batch < EVENTS; batch += 500) {
      const rows = Array.from({ length: 500 }, (_, i) => [
        ids.next('evt'),
        'user.update',
        JSON.stringify({ id: `user_${batch + i}` }),
        now,
      ]);
      const values = rows
        .map((_, i) => `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4})`)
        .join(',');
      await client.query(`insert into outbox (id, type, data, created_at) values ${values}`, rows.flat());
    }
    await client.end();

    const deadline = Date.now() + 90_000;
    while (seen.size < EVENTS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(seen.size).toBe(EVENTS);
    expect(concurrent).toBe(0);
    const duplicates = [...seen.values()].filter((n) => n > 1).length;
    expect(duplicates).toBe(0);
  }, 120_000);
});
