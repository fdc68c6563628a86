import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/lib/pagination.js';
import { counts, expectProblem, makePrincipal, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

type User = {
  id: string;
  username: string;
  email: string | null;
  display_name: string | null;
  disabled: boolean;
  created_at: string;
};

/** Display names with duplicates (in several cases), accents, LIKE wildcards and a backslash. */
const NAMES = ['Zoe Smith Okafor', 'zoe smith', 'Ana', 'ana', 'Émile Zola', 'Bob', null, 'Rate 100%_ok'];
const USERS = 125;

/** The order the API promises: the sort key (folded as stored), then the id; both reversed for `-`. */
function sortKey(u: User, key: string): string | number {
  if (key === 'created_at') return Date.parse(u.created_at);
  if (key === 'display_name') return (u.display_name ?? '').normalize('NFKC').toLowerCase();
  if (key === 'email') return u.email ?? '';
  return u.username;
}
function expectedOrder(users: User[], sort: string): string[] {
  const desc = sort.startsWith('-');
  const key = desc ? sort.slice(1) : sort;
  const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
  return [...users]
    .sort((a, b) => (cmp(sortKey(a, key), sortKey(b, key)) || cmp(a.id, b.id)) * (desc ? -1 : 1))
    .map((u) => u.id);
}

forEachDialect((database) => {
  let app: TestApp;
  let everyone: User[] = [];

  beforeAll(async () => {
    app = await startTestApp(database().url);
    for (let i = 0; i < USERS; i++) {
      // Several users share a created_at (the clock moves every 4), so the id must break ties.
      if (i % 4 === 0) app.clock.advance(1000);
      const body = {
        // Username order is not creation order.
        username: `n${String((i * 37) % USERS).padStart(3, '0')}`,
        email: i % 5 === 0 ? null : `Mail${(i * 53) % USERS}@Example.COM`,
        display_name: NAMES[i % NAMES.length],
        disabled: i % 6 === 0,
      };
      const res = await app.request({ method: 'POST', url: '/api/users', payload: body });
      expect(res.statusCode, res.body).toBe(201);
    }
    const slash = await app.request({
      method: 'POST',
      url: '/api/users',
      payload: { username: 'slash', display_name: 'back\\slash' },
    });
    expect(slash.statusCode, slash.body).toBe(201);
    everyone = (await app.request({ method: 'GET', url: '/api/users?limit=500' })).json().data;
    expect(everyone.length).toBe(USERS + 2);
  });
  afterAll(async () => app?.close());

  async function get(url: string) {
    return app.request({ method: 'GET', url });
  }

  /** Follows next_cursor to the end and returns every row seen. */
  async function all(query: string, limit: number): Promise<User[]> {
    const seen: User[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 200; page++) {
      const res = await get(
        `/api/users?limit=${limit}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(body.data.length).toBeLessThanOrEqual(limit);
      seen.push(...body.data);
      cursor = body.next_cursor;
      if (!cursor) return seen;
    }
    throw new Error('pagination did not end');
  }

  const search = async (q: string) => (await all(`&q=${encodeURIComponent(q)}`, 500)).map((u) => u.id).sort();
  const idsWhere = (match: (u: User) => boolean) =>
    everyone
      .filter(match)
      .map((u) => u.id)
      .sort();

  describe('succeeds', () => {
    const sorts = ['username', 'email', 'display_name', 'created_at'].flatMap((s) => [s, `-${s}`]);
    for (const sort of sorts) {
      it(`sort=${sort}: pages of 7 visit every user once, in (key, id) order`, async () => {
        const ids = (await all(`&sort=${sort}`, 7)).map((u) => u.id);
        expect(ids).toEqual(expectedOrder(everyone, sort));
      });
    }

    it('sorts within filters: q, status and sort together, across pages', async () => {
      const seen = (await all('&q=smith&status=active&sort=-display_name', 3)).map((u) => u.id);
      const matching = everyone.filter(
        (u) => !u.disabled && (u.display_name ?? '').toLowerCase().includes('smith'),
      );
      expect(seen).toEqual(expectedOrder(matching, '-display_name'));
      expect(seen.length).toBeGreaterThan(10);
    });

    it('q matches anywhere in the display name, regardless of case', async () => {
      const okafor = idsWhere((u) => u.display_name === 'Zoe Smith Okafor');
      expect(okafor.length).toBeGreaterThan(10);
      expect(await search('Okafor')).toEqual(okafor);
      expect(await search('okaFOR')).toEqual(okafor);
      expect(await search('Zoe Smith')).toEqual(
        idsWhere((u) => u.display_name === 'Zoe Smith Okafor' || u.display_name === 'zoe smith'),
      );
    });

    it('q matches anywhere in the username and the email', async () => {
      expect(await search('07')).toEqual(
        idsWhere((u) => u.username.includes('07') || (u.email ?? '').includes('07')),
      );
      expect(await search('EXAMPLE.com')).toEqual(idsWhere((u) => u.email !== null));
    });

    it('q folds case and width over Unicode the same on both dialects', async () => {
      const zola = idsWhere((u) => u.display_name === 'Émile Zola');
      expect(await search('émile')).toEqual(zola);
      expect(await search('ÉMILE')).toEqual(zola);
      expect(await search('ｚｏｌａ')).toEqual(zola); // full-width, NFKC
      expect(await search('emile')).toEqual([]);
      expect(await search('🦊')).toEqual([]);
    });

    it('q takes %, _ and backslash literally', async () => {
      const rate = idsWhere((u) => u.display_name === 'Rate 100%_ok');
      expect(rate.length).toBeGreaterThan(0);
      expect(await search('%')).toEqual(rate);
      expect(await search('_')).toEqual(rate);
      expect(await search('0%_o')).toEqual(rate);
      expect(await search('0%x')).toEqual([]);
      expect(await search('1_0')).toEqual([]);
      expect(await search('%'.repeat(256))).toEqual([]);
      expect(await search('_'.repeat(256))).toEqual([]);
      expect(await search('\\')).toEqual(idsWhere((u) => u.username === 'slash'));
      expect(await search('k\\s')).toEqual(idsWhere((u) => u.username === 'slash'));
    });

    it('status=active and status=disabled split the users; disabled= still works', async () => {
      expect((await all('&status=active', 50)).map((u) => u.id)).toEqual(
        everyone.filter((u) => !u.disabled).map((u) => u.id),
      );
      expect((await all('&status=disabled', 50)).map((u) => u.id)).toEqual(
        everyone.filter((u) => u.disabled).map((u) => u.id),
      );
      expect((await all('&status=disabled&disabled=true', 50)).length).toBeGreaterThan(0);
    });

    it('include=total counts every match on every page; without it there is no total', async () => {
      const expected = everyone.filter(
        (u) => !u.disabled && (u.display_name ?? '').toLowerCase().includes('ana'),
      ).length;
      const first = (await get('/api/users?limit=2&q=ana&status=active&include=total')).json();
      expect(first.total).toBe(expected);
      const second = (
        await get(`/api/users?limit=2&q=ana&status=active&include=total&cursor=${first.next_cursor}`)
      ).json();
      expect(second.total).toBe(expected);
      // A cursor does not depend on include.
      const plain = (await get(`/api/users?limit=2&q=ana&status=active&cursor=${first.next_cursor}`)).json();
      expect(plain).not.toHaveProperty('total');
      expect(plain.data).toEqual(second.data);
      expect((await get('/api/users?include=total&sort=-username')).json().total).toBe(everyone.length);
      expect((await get('/api/users?include=total&q=nobody-here')).json()).toEqual({
        data: [],
        next_cursor: null,
        total: 0,
      });
    });

    it('a changed display name is found by its new name only (the stored key follows it)', async () => {
      const slash = everyone.find((u) => u.username === 'slash')!;
      const put = (display_name: string | null) =>
        app.request({ method: 'PUT', url: `/api/users/${slash.id}`, payload: { display_name } });
      expect((await put('Ｒenamed Person')).statusCode).toBe(200);
      expect(await search('renamed p')).toEqual([slash.id]);
      expect(await search('back')).toEqual([]);
      expect((await put(null)).statusCode).toBe(200);
      expect(await search('renamed')).toEqual([]);
      expect((await put('back\\slash')).statusCode).toBe(200);
      expect(await search('back')).toEqual([slash.id]);
    });
  });

  describe('rejects', () => {
    const bad: [string, string, string][] = [
      ['sort=password_hash', '/api/users?sort=password_hash', '/sort'],
      ['sort=username;drop', '/api/users?sort=username%3Bdrop%20table%20users', '/sort'],
      ['sort=id', '/api/users?sort=id', '/sort'],
      ['an empty sort', '/api/users?sort=', '/sort'],
      ['status=gone', '/api/users?status=gone', '/status'],
      ['status contradicting disabled', '/api/users?status=active&disabled=true', '/status'],
      ['include=everything', '/api/users?include=everything', '/include'],
      ['include=total,total', '/api/users?include=total,total', '/include'],
      ['a q of 257 characters', `/api/users?q=${'%25'.repeat(257)}`, '/q'],
      ['an empty q', '/api/users?q=', '/q'],
      ['a NUL in q', '/api/users?q=%00', '/q'],
    ];
    for (const [name, url, pointer] of bad) {
      it(`${name}: 400 naming ${pointer}`, async () => {
        const problem = expectProblem(await get(url), 400, 'validation_failed');
        expect(problem.errors?.[0]).toMatchObject({ in: 'query', pointer });
      });
    }

    it('bytes that are no UTF-8 (an encoded lone surrogate) in q: no 500', async () => {
      const res = await get('/api/users?q=%ED%A0%80&include=total');
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().total).toBe(0);
    });

    it('a repeated sort: 400, not a 500', async () => {
      const res = await get('/api/users?sort=username&sort=email');
      expect(res.statusCode).toBe(400);
    });

    it('a cursor of one sort used with another sort, or with none: 400', async () => {
      const { next_cursor: cursor } = (await get('/api/users?limit=2&sort=username')).json();
      for (const other of ['&sort=email', '&sort=-username', '']) {
        const problem = expectProblem(
          await get(`/api/users?limit=2${other}&cursor=${cursor}`),
          400,
          'validation_failed',
        );
        expect(problem.errors?.[0]).toMatchObject({ in: 'query', pointer: '/cursor' });
      }
      const plain = (await get('/api/users?limit=2')).json().next_cursor;
      expectProblem(await get(`/api/users?limit=2&sort=username&cursor=${plain}`), 400, 'validation_failed');
    });

    it('a forged cursor with a valid checksum but a key of the wrong type or bytes: 400', async () => {
      const id = everyone[3]!.id;
      for (const [sort, keys] of [
        ['username', [12, id]],
        ['created_at', ['yesterday', id]],
        ['username', ['a\u0000b', id]],
        ['display_name', ['a', 5]],
      ] as const) {
        const cursor = encodeCursor([...keys], { sort });
        const problem = expectProblem(
          await get(`/api/users?sort=${sort}&cursor=${cursor}`),
          400,
          'validation_failed',
        );
        expect(problem.detail).toMatch(/malformed/);
      }
    });

    it('listing needs users:read, with or without include=total', async () => {
      const reader = await makePrincipal(app, { permissions: ['roles:read'] });
      const problem = expectProblem(
        await app.request({ method: 'GET', url: '/api/users?include=total', token: reader.token }),
        403,
        'forbidden',
      );
      expect(problem.required_permission).toBe('users:read');
    });
  });

  describe('audit', () => {
    it('a sorted, searched, counted list changes nothing and emits no event', async () => {
      const before = await counts(app);
      await get('/api/users?q=okafor&sort=-created_at&include=total&status=active');
      expect(await counts(app)).toEqual(before);
    });
  });
});
