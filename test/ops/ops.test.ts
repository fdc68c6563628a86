import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { bootstrapAdmin } from '../../src/bootstrap.js';
import { createDb, type Database } from '../../src/db/create-db.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { defaultEnv } from '../../src/env/load.js';
import { systemClock } from '../../src/lib/clock.js';
import { createIds } from '../../src/lib/ids.js';
import { forEachDialect } from '../helpers/databases.js';

forEachDialect((testDb) => {
  let lines: string[];
  let database: Database;
  let built: Awaited<ReturnType<typeof buildApp>>;
  let token: string;

  beforeAll(async () => {
    lines = [];
    const sink = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        lines.push(chunk.toString());
        cb();
      },
    });
    // The production logger's redaction, at debug level, into memory.
    const logger = pino(
      {
        level: 'debug',
        redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
      },
      sink,
    );
    database = createDb(testDb().url, logger);
    await migrateToLatest(database.db);
    built = await buildApp({
      env: defaultEnv(),
      database,
      logger,
      clock: systemClock,
      ids: createIds(),
      auditKey: randomBytes(32),
    });
    token = (await bootstrapAdmin(built.services))!.secret;
  });
  afterAll(async () => {
    await built?.app.close();
    await database?.close();
  });

  describe('succeeds', () => {
    it('GET /healthz and /readyz answer without a token', async () => {
      expect((await built.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
      expect((await built.app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready' });
    });

    it('every answer, success or problem, carries the security headers and the strict CSP', async () => {
      for (const res of [
        await built.app.inject({ url: '/healthz' }),
        await built.app.inject({ url: '/api/events/types', headers: { authorization: `Bearer ${token}` } }),
        await built.app.inject({ url: '/api/events/types' }),
      ]) {
        expect(res.headers['content-security-policy']).toMatch(/script-src 'self'(;|$)/);
        expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
        expect(res.headers['strict-transport-security']).toBeUndefined(); // TLS ends at the proxy (docs/deploy.md)
      }
    });

    it('GET /metrics counts requests by route pattern and status, with a latency histogram', async () => {
      await built.app.inject({ url: '/api/users', headers: { authorization: `Bearer ${token}` } });
      await built.app.inject({
        url: '/api/users/user_01jd8y6v7kf3zr4x6qk9n2m1ab',
        headers: { authorization: `Bearer ${token}` },
      });
      const text = (await built.app.inject({ url: '/metrics' })).body;
      expect(text).toMatch(
        /gatehouse_http_requests_total\{method="GET",route="\/api\/users",status="200"\} 1/,
      );
      expect(text).toMatch(
        /gatehouse_http_requests_total\{method="GET",route="\/api\/users\/:id",status="404"\} 1/,
      );
      expect(text).toMatch(
        /gatehouse_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/api\/users"\}/,
      );
    });

    it('GET /docs renders the API reference', async () => {
      const res = await built.app.inject({ url: '/docs/' });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('swagger-ui');
      expect((await built.app.inject({ url: '/docs/json' })).json().openapi).toBe('3.1.0');
    });
  });

  describe('rejects', () => {
    it('never logs a token, even at debug level', async () => {
      await built.app.inject({
        method: 'POST',
        url: '/api/users',
        headers: { authorization: `Bearer ${token}` },
        payload: { username: 'logged', nope: 1 },
      });
      await built.app.inject({ url: '/api/nowhere', headers: { authorization: `Bearer ${token}x` } });
      const all = lines.join('');
      expect(all.length).toBeGreaterThan(0);
      expect(all).not.toContain(token);
      expect(all).not.toContain(token.slice(4, 36));
    });
  });
});
