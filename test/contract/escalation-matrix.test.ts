import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_ROLE,
  counts,
  expectProblem,
  makePrincipal,
  startTestApp,
  type TestApp,
} from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

type Op = { method: string; path: string; operationId: string; scope: string; target: string | undefined };
type Target = { userId: string; roleId: string | null; tokenId: string };
type Request = { method: string; url: string; payload?: Record<string, unknown> };

/**
 * The escalation matrix (issue 16), generated from /api/openapi.json: every operation that acts on a principal
 * (`x-principal-target`) refuses a caller holding the route's permission but not every permission of the
 * target (403 naming the rule and the missing permission; nothing changes), and lets through a caller that
 * holds them all. Every write route under a user or a token must declare its target, so a new one cannot
 * slip past the rule by forgetting.
 */
forEachDialect((database) => {
  let app: TestApp;
  let ops: Op[] = [];
  let writeOps: Op[] = [];
  /** A role holding only `users:read`: what the assign operation gives. */
  let viewerRoleId = '';

  beforeAll(async () => {
    app = await startTestApp(database().url);
    const doc = (await app.request({ method: 'GET', url: '/api/openapi.json', token: null })).json();
    type Operation = { operationId: string; 'x-required-permission': string; 'x-principal-target'?: string };
    const all = Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(
      ([path, methods]) =>
        Object.entries(methods).map(([method, op]) => ({
          method: method.toUpperCase(),
          path,
          operationId: op.operationId,
          scope: op['x-required-permission'],
          target: op['x-principal-target'],
        })),
    );
    ops = all.filter((o) => o.target !== undefined);
    writeOps = all.filter((o) => o.method !== 'GET');
    viewerRoleId = (
      await app.request({
        method: 'POST',
        url: '/api/roles',
        payload: { name: `viewer-${process.pid}`, permissions: ['users:read'] },
      })
    ).json().id;
  });
  afterAll(async () => app?.close());

  /** A valid request of each operation on a target. A new principal operation needs a line here, or the test below fails. */
  const recipes: Record<string, (t: Target) => Request> = {
    updateUser: (t) => ({
      method: 'PUT',
      url: `/api/users/${t.userId}`,
      payload: { display_name: 'Changed' },
    }),
    deleteUser: (t) => ({ method: 'DELETE', url: `/api/users/${t.userId}` }),
    assignUserRole: (t) => ({ method: 'PUT', url: `/api/users/${t.userId}/roles/${viewerRoleId}` }),
    unassignUserRole: (t) => ({
      method: 'DELETE',
      url: `/api/users/${t.userId}/roles/${t.roleId ?? ADMIN_ROLE}`,
    }),
    createToken: (t) => ({
      method: 'POST',
      url: '/api/tokens',
      payload: { name: 'matrix', scopes: ['users:read'], user_id: t.userId },
    }),
    revokeToken: (t) => ({ method: 'DELETE', url: `/api/tokens/${t.tokenId}` }),
    rotateToken: (t) => ({ method: 'POST', url: `/api/tokens/${t.tokenId}/rotate`, payload: {} }),
    resetUserMfa: (t) => ({ method: 'DELETE', url: `/api/users/${t.userId}/mfa` }),
  };

  it('every write operation on a user or a token declares its principal target, and each has a recipe here', () => {
    const onPrincipals = writeOps.filter(
      (o) => /^\/api\/users\/\{id\}/.test(o.path) || o.path.startsWith('/api/tokens'),
    );
    expect(onPrincipals.length).toBeGreaterThanOrEqual(7);
    for (const op of onPrincipals) expect(op.target, `${op.method} ${op.path}`).toBeDefined();
    for (const op of ops) expect(recipes[op.operationId], `${op.operationId}: add a recipe`).toBeDefined();
  });

  const send = (req: Request, token: string) =>
    app.request({ ...req, token, ...(req.payload ? { payload: req.payload } : {}) });

  describe('rejects: a weaker caller', () => {
    it('is refused on a stronger target and on the admin; nothing changes', async () => {
      for (const op of ops) {
        // The caller holds the route's permission and users:read; the target holds audit:read beyond that.
        const caller = await makePrincipal(app, { permissions: [op.scope, 'users:read'] });
        const strong = await makePrincipal(app, { permissions: ['users:read', 'audit:read'] });
        const admin: Target = { userId: app.adminId, roleId: ADMIN_ROLE, tokenId: await adminTokenId() };
        for (const [target, required] of [
          [strong, 'audit:read'],
          [admin, '*'],
        ] as const) {
          const where = `${op.operationId} on ${required === '*' ? 'the admin' : 'a stronger user'}`;
          const before = await counts(app);
          const res = await send(recipes[op.operationId]!(target), caller.token);
          const p = expectProblem(res, 403, 'forbidden') as { required_permission?: string; rule?: string };
          expect(p.required_permission, where).toBe(required);
          expect(p.rule, where).toBe('act_on_principal');
          const after = await counts(app);
          expect(after.outbox, where).toBe(before.outbox);
          expect(after.audit - before.audit, where).toBe(1);
        }
      }
    });
  });

  describe('succeeds: a caller holding every permission of the target', () => {
    it('acts on a weaker target, and the admin on a stronger one', async () => {
      for (const op of ops) {
        const caller = await makePrincipal(app, { permissions: [op.scope, 'users:read'] });
        const weak = await makePrincipal(app, { permissions: ['users:read'] });
        const strong = await makePrincipal(app, { permissions: ['users:read', 'audit:read'] });
        for (const [target, token, who] of [
          [weak, caller.token, 'a weaker user'],
          [strong, app.adminToken, 'the admin on a stronger user'],
        ] as const) {
          const res = await send(recipes[op.operationId]!(target), token);
          expect(res.statusCode, `${op.operationId} by ${who}: ${res.body}`).toBeLessThan(300);
        }
      }
    });
  });

  async function adminTokenId(): Promise<string> {
    const page = (await app.request({ method: 'GET', url: `/api/tokens?user_id=${app.adminId}` })).json();
    return (page.data as { id: string; revoked_at: string | null }[]).find((t) => t.revoked_at === null)!.id;
  }
});
