import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counts, expectProblem, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

forEachDialect((database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(database().url);
  });
  afterAll(async () => app?.close());

  const post = (url: string, payload: object, key: string) =>
    app.request({ method: 'POST', url, payload, headers: { 'idempotency-key': key } });

  describe('succeeds', () => {
    it('the same key and body replay the first answer, and change nothing more', async () => {
      const first = await post('/api/users', { username: 'idem-one' }, 'key-1');
      expect(first.statusCode).toBe(201);
      const before = await counts(app);
      const again = await post('/api/users', { username: 'idem-one' }, 'key-1');
      expect(again.statusCode).toBe(201);
      expect(again.json()).toEqual(first.json());
      expect(again.headers['idempotency-replayed']).toBe('true');
      expect(await counts(app)).toEqual(before);
    });

    it('the answer is stored with the change: a token replay never shows the secret again', async () => {
      const first = await post('/api/tokens', { name: 'idem', scopes: ['users:read'] }, 'key-tok');
      expect(first.json().secret).toMatch(/^gth_/);
      const again = await post('/api/tokens', { name: 'idem', scopes: ['users:read'] }, 'key-tok');
      expect(again.statusCode).toBe(201);
      expect(again.json()).toMatchObject({ id: first.json().id });
      expect(again.json()).not.toHaveProperty('secret');
      const row = await app.database.db
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('key', '=', 'key-tok')
        .executeTakeFirstOrThrow();
      expect(row.response).not.toContain(first.json().secret);
    });

    it('a failed request frees its key for a retry', async () => {
      expectProblem(await post('/api/users', { username: 'admin' }, 'key-dup'), 409, 'user.username_taken');
      expect((await post('/api/users', { username: 'admin' }, 'key-dup')).statusCode).toBe(409);
    });

    it('keys are per caller and expire after 24 hours', async () => {
      await post('/api/users', { username: 'idem-two' }, 'key-2');
      app.clock.advance(24 * 3600 * 1000 + 1000);
      const later = await post('/api/users', { username: 'idem-two' }, 'key-2');
      expectProblem(later, 409, 'user.username_taken'); // the key expired: the request ran again
    });
  });

  describe('rejects', () => {
    it('the same key with a different body: 422, nothing changed', async () => {
      await post('/api/users', { username: 'idem-three' }, 'key-3');
      const before = await counts(app);
      expectProblem(
        await post('/api/users', { username: 'idem-four' }, 'key-3'),
        422,
        'idempotency.key_reused',
      );
      expect(await counts(app)).toEqual({ ...before, audit: before.audit });
    });

    it('the same key while the first request is still in flight: 409 with Retry-After; an abandoned one is taken over', async () => {
      // A first request that started and has not finished: the row a crashed or slow request leaves.
      const hash = createHash('sha256')
        .update('/api/users\n/api/users\n{"username":"idem-five"}')
        .digest('hex');
      await app.database.db
        .insertInto('idempotency_keys')
        .values({
          actor: app.adminId,
          key: 'key-busy',
          request_hash: hash,
          status: null,
          response: null,
          created_at: app.clock.now(),
          completed_at: null,
        })
        .execute();
      const res = await post('/api/users', { username: 'idem-five' }, 'key-busy');
      expectProblem(res, 409, 'idempotency.in_flight');
      expect(res.headers['retry-after']).toBe('1');
      app.clock.advance(61_000);
      expect((await post('/api/users', { username: 'idem-five' }, 'key-busy')).statusCode).toBe(201);
    });

    it('a malformed key: 400', async () => {
      expectProblem(
        await post('/api/users', { username: 'idem-seven' }, 'bad key with spaces'),
        400,
        'validation_failed',
      );
    });
  });
});
