import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counts, makePrincipal, startTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';

type Op = { method: string; path: string; scope: string };

/**
 * Generated from /api/openapi.json: every non-public operation refuses no token, a bad checksum and a
 * revoked token with 401, and a token without its permission with 403 naming it; each denial is audited
 * once. A new route is covered without editing this file.
 */
describe('route security', () => {
  let database: TestDatabase;
  let app: TestApp;
  let ops: Op[] = [];
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    app = await startTestApp(database.url);
    const doc = (await app.request({ method: 'GET', url: '/api/openapi.json', token: null })).json();
    ops = Object.entries(doc.paths as Record<string, Record<string, { 'x-required-permission'?: string }>>)
      .filter(([path]) => path.startsWith('/api/'))
      .flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, op]) => ({
          method: method.toUpperCase(),
          path,
          scope: op['x-required-permission'] ?? 'missing',
        })),
      );
    tokens.audit = (await makePrincipal(app, { permissions: ['audit:read'] })).token;
    tokens.users = (await makePrincipal(app, { permissions: ['users:read'] })).token;
    const revoked = await makePrincipal(app, { permissions: ['users:read'] });
    await app.request({ method: 'DELETE', url: `/api/tokens/${revoked.tokenId}` });
    tokens.revoked = revoked.token;
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  const url = (path: string) =>
    path.replace(/\{(\w+)\}/g, (_m, name: string) =>
      name === 'roleId' ? 'role_01jd8y6v7kf3zr4x6qk9n2m1ab' : 'user_01jd8y6v7kf3zr4x6qk9n2m1ab',
    );
  const send = (op: Op, token: string | null) =>
    app.request({
      method: op.method,
      url: url(op.path),
      token,
      // An invalid body: the permission check comes first, so it must not matter.
      ...(op.method === 'POST' || op.method === 'PUT' || op.method === 'PATCH'
        ? { payload: { not_a_field: true } }
        : {}),
    });

  it('covers every operation, each declaring its permission; the public set is exactly openapi.json and the sign-in routes', () => {
    expect(ops.length).toBeGreaterThan(15);
    for (const op of ops) expect(op.scope, `${op.method} ${op.path}`).not.toBe('missing');
    expect(
      ops
        .filter((o) => o.scope === 'public')
        .map((o) => `${o.method} ${o.path}`)
        .sort(),
    ).toEqual([
      'GET /api/auth/methods',
      'GET /api/auth/oidc/{id}/callback',
      'GET /api/auth/oidc/{id}/start',
      'GET /api/openapi.json',
      'POST /api/auth/login',
      // The second sign-in step: it carries the mfa_token of the first (DESIGN.md).
      'POST /api/auth/login/mfa',
      'POST /api/auth/login/mfa/webauthn/options',
      'POST /api/auth/oidc/exchange',
    ]);
  });

  it('401 with WWW-Authenticate for no token, a bad checksum and a revoked token; one denied audit row each', async () => {
    const badChecksum = `${app.adminToken.slice(0, -1)}${app.adminToken.endsWith('a') ? 'b' : 'a'}`;
    for (const op of ops.filter((o) => o.scope !== 'public')) {
      for (const [name, token] of [
        ['none', null],
        ['bad checksum', badChecksum],
        ['revoked', tokens.revoked!],
      ] as const) {
        const before = await counts(app);
        const res = await send(op, token);
        const where = `${op.method} ${op.path} with ${name}`;
        expect(res.statusCode, `${where}: ${res.body}`).toBe(401);
        expect(res.headers['www-authenticate'], where).toBe(
          token === null ? 'Bearer' : 'Bearer error="invalid_token"',
        );
        expect(res.json().code, where).toBe('unauthenticated');
        const after = await counts(app);
        expect(after.audit - before.audit, where).toBe(1);
        expect(after.outbox, where).toBe(before.outbox);
      }
    }
  });

  it('403 naming required_permission for a token without it, even with an invalid body; one denied audit row each', async () => {
    const checked = ops.filter((o) => o.scope !== 'public' && o.scope !== 'token');
    expect(checked.length).toBeGreaterThan(10);
    for (const op of checked) {
      const token = op.scope === 'audit:read' ? tokens.users! : tokens.audit!;
      const before = await counts(app);
      const res = await send(op, token);
      const where = `${op.method} ${op.path}`;
      expect(res.statusCode, `${where}: ${res.body}`).toBe(403);
      expect(res.json(), where).toMatchObject({ code: 'forbidden', required_permission: op.scope });
      const after = await counts(app);
      expect(after.audit - before.audit, where).toBe(1);
      expect(after.outbox, where).toBe(before.outbox);
      const row = await app.database.db
        .selectFrom('audit_events')
        .select(['outcome', 'action'])
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirstOrThrow();
      expect(row.outcome, where).toBe('denied');
    }
  });
});
