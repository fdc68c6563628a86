import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDITOR_ROLE,
  expectProblem,
  makePrincipal,
  makeUser,
  startTestApp,
  type TestApp,
} from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

type Event = {
  id: string;
  seq: number;
  ts: string;
  actor: string;
  action: string;
  outcome: string;
  target: { type: string; id: string | null } | null;
};

forEachDialect((database) => {
  let app: TestApp;
  let all: Event[] = [];
  let snapshot = 0;
  let other: Awaited<ReturnType<typeof makePrincipal>>;
  const userIds: string[] = [];

  /** A varied log: creates, updates, deletes, role changes, denials, failed changes, sign-ins, over time. */
  async function seed() {
    other = await makePrincipal(app, { permissions: ['users:read', 'users:write'] });
    for (let i = 0; i < 12; i++) {
      app.clock.advance(60_000);
      const u = (
        await app.request({
          method: 'POST',
          url: '/api/users',
          payload: makeUser({ password: 'long enough password' }),
          token: i % 3 ? app.adminToken : other.token,
        })
      ).json();
      userIds.push(u.id);
      await app.request({
        method: 'PUT',
        url: `/api/users/${u.id}`,
        payload: { display_name: `n${i}` },
        token: i % 2 ? app.adminToken : other.token,
      });
      if (i % 4 === 0) await app.request({ method: 'PUT', url: `/api/users/${u.id}/roles/${AUDITOR_ROLE}` });
      if (i % 5 === 0) await app.request({ method: 'DELETE', url: `/api/users/${u.id}` });
      if (i % 3 === 0) await app.request({ method: 'GET', url: '/api/roles', token: other.token }); // 403
      if (i % 4 === 1) await app.request({ method: 'GET', url: '/api/users', token: null }); // 401
      if (i % 4 === 2)
        await app.request({ method: 'POST', url: '/api/users', payload: { username: 'admin' } }); // 409 error
      if (i % 6 === 0)
        await app.request({
          method: 'POST',
          url: '/api/auth/login',
          payload: { username: u.username, password: 'wrong password!' },
          token: null,
        });
    }
  }

  beforeAll(async () => {
    app = await startTestApp(database().url);
    await seed();
    const { db } = app.database;
    const rows = await db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
    all = rows.map((r) => ({
      id: r.id,
      seq: Number(r.seq),
      ts: new Date(Number(r.ts)).toISOString(),
      actor: r.actor,
      action: r.action,
      outcome: r.outcome,
      target: r.target_type === null ? null : { type: r.target_type, id: r.target_id },
    }));
    snapshot = all[all.length - 1]!.seq;
  });
  afterAll(async () => app?.close());

  /** Follows next_cursor to the end; drops the audit.query rows our own reads appended after the snapshot. */
  async function follow(query: string, limit: number): Promise<Event[]> {
    const out: Event[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 1000; i++) {
      const res = await app.request({
        method: 'GET',
        url: `/api/audit?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`,
      });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      out.push(...body.data);
      cursor = body.next_cursor;
      if (!cursor) return out.filter((e) => e.seq <= snapshot);
    }
    throw new Error('no end');
  }

  const verb = (a: string) => a.split('.')[1];
  const resource = (a: string) => a.split('.')[0];

  describe('succeeds', () => {
    it('the seed produced a varied log', () => {
      expect(all.length).toBeGreaterThan(40);
      expect(new Set(all.map((e) => e.outcome))).toEqual(new Set(['success', 'denied', 'error']));
      expect(new Set(all.map((e) => e.actor)).size).toBeGreaterThanOrEqual(4);
    });

    it('every event appears once, newest first, whatever the page size', async () => {
      for (const limit of [1, 7, 50, 500]) {
        const got = await follow('', limit);
        expect(got.map((e) => e.seq)).toEqual([...all].reverse().map((e) => e.seq));
      }
    });

    const mid = () => all[Math.floor(all.length / 2)]!.ts;
    const late = () => all[Math.floor((all.length * 3) / 4)]!.ts;
    type Case = [string, () => string, (e: Event) => boolean];
    const single: Case[] = [
      ['actor=admin', () => `&actor=${app.adminId}`, (e) => e.actor === app.adminId],
      ['actor=other', () => `&actor=${other.userId}`, (e) => e.actor === other.userId],
      ['actor=system', () => '&actor=system', (e) => e.actor === 'system'],
      ['actor=anonymous', () => '&actor=anonymous', (e) => e.actor === 'anonymous'],
      ['action exact', () => '&action=user.update', (e) => e.action === 'user.update'],
      [
        'action list',
        () => '&action=user.delete,role.assign',
        (e) => ['user.delete', 'role.assign'].includes(e.action),
      ],
      ['action resource', () => '&action=user.*', (e) => resource(e.action) === 'user'],
      ['action verb', () => '&action=create', (e) => verb(e.action) === 'create'],
      [
        'action mixed',
        () => '&action=role.*,delete,auth.login',
        (e) => resource(e.action) === 'role' || verb(e.action) === 'delete' || e.action === 'auth.login',
      ],
      ['action *', () => '&action=*', () => true],
      ['since', () => `&since=${mid()}`, (e) => e.ts >= mid()],
      ['until', () => `&until=${mid()}`, (e) => e.ts < mid()],
      ['since+until', () => `&since=${mid()}&until=${late()}`, (e) => e.ts >= mid() && e.ts < late()],
      ['outcome=denied', () => '&outcome=denied', (e) => e.outcome === 'denied'],
      ['outcome=error', () => '&outcome=error', (e) => e.outcome === 'error'],
      ['target id', () => `&target=${userIds[1]!}`, (e) => e.target?.id === userIds[1]],
      [
        'target type:id',
        () => `&target=user:${userIds[4]!}`,
        (e) => e.target?.type === 'user' && e.target.id === userIds[4],
      ],
    ];
    for (const [name, query, match] of single) {
      it(`filter ${name} returns exactly the matching events`, async () => {
        const expected = all
          .filter(match)
          .reverse()
          .map((e) => e.seq);
        expect((await follow(query(), 7)).map((e) => e.seq)).toEqual(expected);
      });
    }

    it('every pair of filters returns exactly the events matching both', async () => {
      let nonEmpty = 0;
      for (let i = 0; i < single.length; i++) {
        for (let j = i + 1; j < single.length; j++) {
          const [, qa, ma] = single[i]!;
          const [, qb, mb] = single[j]!;
          const names = (q: string) =>
            q
              .split('&')
              .filter(Boolean)
              .map((p) => p.split('=')[0]);
          if (names(qa()).some((n) => names(qb()).includes(n))) continue; // the same parameter twice
          const expected = all
            .filter((e) => ma(e) && mb(e))
            .reverse()
            .map((e) => e.seq);
          if (expected.length) nonEmpty += 1;
          expect(
            (await follow(qa() + qb(), 13)).map((e) => e.seq),
            `${single[i]![0]} + ${single[j]![0]}`,
          ).toEqual(expected);
        }
      }
      expect(nonEmpty).toBeGreaterThan(20);
    });

    it('actor + action + since, the combination collectors use most', async () => {
      const since = all[10]!.ts;
      const expected = all
        .filter((e) => e.actor === app.adminId && resource(e.action) === 'user' && e.ts >= since)
        .reverse()
        .map((e) => e.seq);
      expect(expected.length).toBeGreaterThan(3);
      expect(
        (await follow(`&actor=${app.adminId}&action=user.*&since=${since}`, 3)).map((e) => e.seq),
      ).toEqual(expected);
    });

    it('tails with order=asc&after=: no gaps, no repeats, and new events appear on the next poll', async () => {
      const from = all[20]!.seq;
      const first = (
        await app.request({ method: 'GET', url: `/api/audit?order=asc&after=${from}&limit=500` })
      ).json();
      const seen = first.data.map((e: Event) => e.seq);
      expect(seen.slice(0, all.length - 21)).toEqual(all.slice(21).map((e) => e.seq));
      const last: number = seen[seen.length - 1];
      await app.request({ method: 'POST', url: '/api/users', payload: makeUser() });
      const next = (await app.request({ method: 'GET', url: `/api/audit?order=asc&after=${last}&limit=500` }))
        .json()
        .data.map((e: Event) => e.seq);
      expect(next[0]).toBe(last + 1);
      next.forEach((s: number, i: number) => expect(s).toBe(last + 1 + i));
    });

    it('GET /api/audit/{id} returns one event with every field', async () => {
      const target = all.find((e) => e.action === 'user.update')!;
      const res = await app.request({ method: 'GET', url: `/api/audit/${target.id}` });
      expect(res.json()).toMatchObject({
        id: target.id,
        seq: target.seq,
        action: 'user.update',
        outcome: 'success',
        changes: { before: expect.any(Object), after: expect.any(Object) },
      });
      expect(Object.keys(res.json()).sort()).toEqual([
        'action',
        'actor',
        'actor_name',
        'changes',
        'detail',
        'hash',
        'id',
        'ip',
        'outcome',
        'prev_hash',
        'request_id',
        'seq',
        'target',
        'token_id',
        'ts',
        'user_agent',
      ]);
    });

    it('reads of the audit log are audited themselves', async () => {
      await app.request({
        method: 'GET',
        url: '/api/audit?limit=1',
        headers: { 'x-request-id': 'audit-read-1' },
      });
      const row = await app.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('request_id', '=', 'audit-read-1')
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ action: 'audit.query', outcome: 'success', actor: app.adminId });
    });

    it('GET /api/events/types serves the catalogue with descriptions', async () => {
      const { data } = (
        await app.request({ method: 'GET', url: '/api/events/types', token: other.token })
      ).json();
      expect(data).toContainEqual({
        type: 'user.create',
        description: expect.any(String),
        schema: '/api/openapi.json#/webhooks/user.create',
      });
      expect(data.map((t: { type: string }) => t.type)).not.toContain('audit.query');
    });
  });

  describe('rejects', () => {
    const bad: [string, string, string][] = [
      ['since not ISO 8601', '?since=yesterday', '/since'],
      ['since as a date without time', '?since=2026-01-01', '/since'],
      ['until as epoch', '?until=1700000000', '/until'],
      [
        'since a leap second, which RFC 3339 allows and no clock here can read',
        '?since=2016-12-31T23:59:60Z',
        '/since',
      ],
      ['an unknown outcome', '?outcome=maybe', '/outcome'],
      ['a malformed action list', '?action=user.,create', '/action'],
      ['an uppercase action', '?action=USER.create', '/action'],
      ['limit over 500', '?limit=501', '/limit'],
      ['after without order=asc', '?after=3', '/after'],
      ['a malformed cursor', '?cursor=zz', '/cursor'],
      ['an unknown parameter', '?sort=ts', '/sort'],
    ];
    for (const [name, query, pointer] of bad) {
      it(`${name}: 400 at ${pointer}`, async () => {
        const p = expectProblem(
          await app.request({ method: 'GET', url: `/api/audit${query}` }),
          400,
          'validation_failed',
        );
        expect(p.errors?.[0]?.pointer).toBe(pointer);
      });
    }

    it('a cursor used with different filters, or altered: 400', async () => {
      const { next_cursor: cursor } = (
        await app.request({ method: 'GET', url: '/api/audit?limit=2&outcome=success' })
      ).json();
      expectProblem(
        await app.request({ method: 'GET', url: `/api/audit?limit=2&outcome=denied&cursor=${cursor}` }),
        400,
        'validation_failed',
      );
      const body = JSON.parse(Buffer.from(cursor, 'base64url').toString());
      body.k = [1];
      expectProblem(
        await app.request({
          method: 'GET',
          url: `/api/audit?limit=2&outcome=success&cursor=${Buffer.from(JSON.stringify(body)).toString('base64url')}`,
        }),
        400,
        'validation_failed',
      );
    });

    it('unknown or malformed event ids: 404', async () => {
      expectProblem(
        await app.request({ method: 'GET', url: '/api/audit/evt_01jd8y6v7kf3zr4x6qk9n2m1ab' }),
        404,
        'not_found',
      );
      expectProblem(
        await app.request({ method: 'GET', url: '/api/audit/user_01jd8y6v7kf3zr4x6qk9n2m1ab' }),
        404,
        'not_found',
      );
    });
  });
});
