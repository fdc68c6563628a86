import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counts, expectProblem, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

type User = { id: string; username: string; email: string | null; kind: string; disabled: boolean };

forEachDialect((database) => {
  let app: TestApp;
  const created: User[] = [];

  beforeAll(async () => {
    app = await startTestApp(database().url);
    created.push((await app.request({ method: 'GET', url: '/api/users' })).json().data[0]); // admin
    for (let i = 0; i < 23; i++) {
      const body = {
        username: `member${String(i).padStart(2, '0')}`,
        email: i % 3 === 0 ? `m${i}@corp.example` : null,
        kind: i % 2 === 0 ? 'human' : 'service',
        disabled: i % 5 === 0,
      };
      const res = await app.request({ method: 'POST', url: '/api/users', payload: body });
      expect(res.statusCode).toBe(201);
      created.push(res.json());
    }
  });
  afterAll(async () => app?.close());

  /** Follows next_cursor to the end and returns every row seen. */
  async function all(query: string, limit: number): Promise<User[]> {
    const seen: User[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const url = `/api/users?limit=${limit}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await app.request({ method: 'GET', url });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(body.data.length).toBeLessThanOrEqual(limit);
      seen.push(...body.data);
      cursor = body.next_cursor;
      if (!cursor) return seen;
    }
    throw new Error('pagination did not end');
  }

  describe('succeeds', () => {
    it('defaults to 50 per page, in creation order, with next_cursor null at the end', async () => {
      const body = (await app.request({ method: 'GET', url: '/api/users' })).json();
      expect(body.data.map((u: User) => u.id)).toEqual(created.map((u) => u.id));
      expect(body.next_cursor).toBeNull();
    });

    for (const limit of [1, 2, 7, 24, 500]) {
      it(`returns every user exactly once when following cursors with limit=${limit}`, async () => {
        const ids = (await all('', limit)).map((u) => u.id);
        expect(ids).toEqual(created.map((u) => u.id));
      });
    }

    const filters: [string, string, (u: User) => boolean][] = [
      ['kind=service', '&kind=service', (u) => u.kind === 'service'],
      ['disabled=true', '&disabled=true', (u) => u.disabled],
      ['disabled=false&kind=human', '&disabled=false&kind=human', (u) => !u.disabled && u.kind === 'human'],
      ['q=member1 (in the username)', '&q=member1', (u) => u.username.includes('member1')],
      [
        'q=M1 (case-insensitive)',
        '&q=M1',
        (u) => u.username.includes('m1') || (u.email ?? '').includes('m1'),
      ],
      ['q=ber2 (inside the username)', '&q=ber2', (u) => u.username.includes('ber2')],
      ['q=m (username or email)', '&q=m', (u) => u.username.includes('m') || (u.email ?? '').includes('m')],
      [
        'q=m1&kind=human',
        '&q=m1&kind=human',
        (u) => u.kind === 'human' && ((u.email ?? '').includes('m1') || u.username.includes('m1')),
      ],
      ['q with LIKE wildcards matches literally', '&q=%25', () => false],
      ['q=zzz (none)', '&q=zzz', () => false],
    ];
    for (const [name, query, match] of filters) {
      it(`filters ${name} exactly, across pages`, async () => {
        const expected = created.filter(match).map((u) => u.id);
        expect((await all(query, 3)).map((u) => u.id)).toEqual(expected);
      });
    }
  });

  describe('rejects', () => {
    const bad: [string, string, string][] = [
      ['limit=1000000', '/api/users?limit=1000000', '/limit'],
      ['limit=0', '/api/users?limit=0', '/limit'],
      ['limit=abc', '/api/users?limit=abc', '/limit'],
      ['a malformed cursor', '/api/users?cursor=not-a-cursor', '/cursor'],
      [
        'a cursor of valid base64 but garbage JSON',
        `/api/users?cursor=${Buffer.from('{"k":1}').toString('base64url')}`,
        '/cursor',
      ],
      ['an unknown query parameter', '/api/users?order=username', '/order'],
      ['an unknown kind', '/api/users?kind=robot', '/kind'],
      ['a NUL in q', '/api/users?q=a%00b', '/q'],
    ];
    for (const [name, url, pointer] of bad) {
      it(`${name}: 400 naming ${pointer}`, async () => {
        const before = await counts(app);
        const problem = expectProblem(await app.request({ method: 'GET', url }), 400, 'validation_failed');
        expect(problem.errors?.[0]).toMatchObject({ in: 'query', pointer });
        expect((await counts(app)).users).toBe(before.users);
      });
    }

    it('a tampered cursor: 400', async () => {
      const { next_cursor: cursor } = (
        await app.request({ method: 'GET', url: '/api/users?limit=2' })
      ).json();
      const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString());
      decoded.k = [created[10]!.id];
      const tampered = Buffer.from(JSON.stringify(decoded)).toString('base64url');
      const problem = expectProblem(
        await app.request({ method: 'GET', url: `/api/users?limit=2&cursor=${tampered}` }),
        400,
        'validation_failed',
      );
      expect(problem.detail).toMatch(/altered/);
    });

    it('a cursor reused with other filters: 400', async () => {
      const { next_cursor: cursor } = (
        await app.request({ method: 'GET', url: '/api/users?limit=2&kind=human' })
      ).json();
      const problem = expectProblem(
        await app.request({ method: 'GET', url: `/api/users?limit=2&kind=service&cursor=${cursor}` }),
        400,
        'validation_failed',
      );
      expect(problem.detail).toMatch(/other filters/);
    });
  });

  describe('audit', () => {
    it('a list changes nothing and emits no event; a denied list is audited once', async () => {
      const before = await counts(app);
      await app.request({ method: 'GET', url: '/api/users' });
      expect(await counts(app)).toEqual(before);
      await app.request({ method: 'GET', url: '/api/users', token: null });
      const after = await counts(app);
      expect(after.audit - before.audit).toBe(1);
      expect(after.outbox).toBe(before.outbox);
    });
  });
});
