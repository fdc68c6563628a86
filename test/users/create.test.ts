import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counts, expectProblem, makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

forEachDialect((database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(database().url);
  });
  afterAll(async () => app?.close());

  const post = (payload: unknown, headers: Record<string, string> = {}) =>
    app.request({ method: 'POST', url: '/api/users', payload: payload as object, headers });

  describe('succeeds', () => {
    it('creates a user exactly as the seed example does: 201, JSON, Location', async () => {
      const res = await post({ username: 'alice' }, { 'content-type': 'application/json' });
      expect(res.statusCode).toBe(201);
      const user = res.json();
      expect(user).toEqual({
        id: expect.stringMatching(/^user_[0-9a-z]{26}$/),
        username: 'alice',
        email: null,
        display_name: null,
        kind: 'human',
        disabled: false,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        updated_at: user.created_at,
      });
      expect(res.headers.location).toBe(`/api/users/${user.id}`);
      expect(res.headers['x-request-id']).toBeTruthy();
    });

    it('stores the username NFKC-normalised and lower-cased, and the email lower-cased', async () => {
      const res = await post({
        username: 'Ｂｏｂ.Smith',
        email: 'Bob@Example.COM',
        display_name: 'Bob',
        kind: 'service',
      });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({
        username: 'bob.smith',
        email: 'bob@example.com',
        display_name: 'Bob',
        kind: 'service',
      });
    });

    it('never returns a hash or a secret', async () => {
      const res = await post(makeUser());
      expect(Object.keys(res.json()).sort()).toEqual([
        'created_at',
        'disabled',
        'display_name',
        'email',
        'id',
        'kind',
        'updated_at',
        'username',
      ]);
    });

    it("keeps the caller's sane X-Request-Id and replaces an unsafe one", async () => {
      const ok = await post(makeUser(), { 'x-request-id': 'trace-42.a' });
      expect(ok.headers['x-request-id']).toBe('trace-42.a');
      const bad = await post(makeUser(), { 'x-request-id': 'x'.repeat(300) });
      expect(bad.headers['x-request-id']).not.toBe('x'.repeat(300));
    });
  });

  describe('rejects', () => {
    const cases: [string, () => Promise<Awaited<ReturnType<typeof post>>>, number, string, string?][] = [
      ['a duplicate username in another case', () => post({ username: 'ALICE' }), 409, 'user.username_taken'],
      [
        'a duplicate username in full width',
        () => post({ username: 'ａｌｉｃｅ' }),
        409,
        'user.username_taken',
      ],
      [
        'unknown fields, listing each',
        () => post({ username: 'carol', id: 'user_x', roles: ['admin'] }),
        400,
        'validation_failed',
        '/id',
      ],
      ['a NUL byte', () => post({ username: 'car\u0000ol' }), 400, 'validation_failed', '/username'],
      [
        'a lone surrogate',
        () => post({ username: 'carol', display_name: 'x\ud800y' }),
        400,
        'validation_failed',
        '/display_name',
      ],
      [
        'characters outside the username set',
        () => post({ username: 'carol smith' }),
        400,
        'validation_failed',
        '/username',
      ],
      [
        'a username longer than 64',
        () => post({ username: 'a'.repeat(65) }),
        400,
        'validation_failed',
        '/username',
      ],
      ['an empty username', () => post({ username: '' }), 400, 'validation_failed', '/username'],
      ['a missing username', () => post({ email: 'a@b.co' }), 400, 'validation_failed', '/username'],
      [
        'a bad email',
        () => post({ username: 'carol', email: 'not-an-email' }),
        400,
        'validation_failed',
        '/email',
      ],
      [
        'a display name over 128',
        () => post({ username: 'carol', display_name: 'x'.repeat(129) }),
        400,
        'validation_failed',
        '/display_name',
      ],
      [
        'a wrong type, without coercion',
        () => post({ username: 'carol', disabled: 'true' }),
        400,
        'validation_failed',
        '/disabled',
      ],
      [
        'an unknown kind',
        () => post({ username: 'carol', kind: 'robot' }),
        400,
        'validation_failed',
        '/kind',
      ],
      ['a JSON array', () => post([{ username: 'carol' }]), 400, 'validation_failed'],
      [
        'bad JSON',
        () =>
          app.request({
            method: 'POST',
            url: '/api/users',
            payload: '{"username":',
            headers: { 'content-type': 'application/json' },
          }),
        400,
        'bad_request',
      ],
      [
        'an empty body',
        () =>
          app.request({
            method: 'POST',
            url: '/api/users',
            payload: '',
            headers: { 'content-type': 'application/json' },
          }),
        400,
        'validation_failed',
      ],
      [
        'prototype poisoning',
        () =>
          app.request({
            method: 'POST',
            url: '/api/users',
            payload: '{"username":"carol","__proto__":{"x":1}}',
            headers: { 'content-type': 'application/json' },
          }),
        400,
        'bad_request',
      ],
      [
        'a 2 MiB body',
        () =>
          app.request({
            method: 'POST',
            url: '/api/users',
            payload: JSON.stringify({ username: 'a'.repeat(2 * 1024 * 1024) }),
            headers: { 'content-type': 'application/json' },
          }),
        413,
        'payload_too_large',
      ],
      [
        'a non-JSON content type',
        () =>
          app.request({
            method: 'POST',
            url: '/api/users',
            payload: 'username=carol',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          }),
        415,
        'unsupported_media_type',
      ],
      [
        'text/plain',
        () =>
          app.request({
            method: 'POST',
            url: '/api/users',
            payload: '{"username":"carol"}',
            headers: { 'content-type': 'text/plain' },
          }),
        415,
        'unsupported_media_type',
      ],
    ];
    for (const [name, send, status, code, pointer] of cases) {
      it(`${name}: ${status} ${code}, nothing changed`, async () => {
        const before = await counts(app);
        const res = await send();
        const problem = expectProblem(res, status, code);
        if (pointer) expect(problem.errors?.map((e) => e.pointer)).toContain(pointer);
        const after = await counts(app);
        expect(after.users).toBe(before.users);
        expect(after.outbox).toBe(before.outbox);
        expect(
          await app.request({ method: 'GET', url: '/api/users?q=carol' }).then((r) => r.json().data),
        ).toEqual([]);
      });
    }

    it('lists every unknown field with in and pointer', async () => {
      const problem = expectProblem(
        await post({ username: 'carol', id: 'x', created_at: 'y' }),
        400,
        'validation_failed',
      );
      expect(problem.errors).toEqual([
        { in: 'body', pointer: '/id', message: 'unknown field "id"' },
        { in: 'body', pointer: '/created_at', message: 'unknown field "created_at"' },
      ]);
    });

    it('401 without a token, with WWW-Authenticate', async () => {
      const res = await app.request({ method: 'POST', url: '/api/users', payload: makeUser(), token: null });
      expectProblem(res, 401, 'unauthenticated');
      expect(res.headers['www-authenticate']).toBe('Bearer');
    });

    it('401 with a token whose checksum is wrong, and with an unknown well-formed token', async () => {
      const t = app.adminToken;
      const typo = `${t.slice(0, 10)}${t[10] === 'a' ? 'b' : 'a'}${t.slice(11)}`;
      for (const token of [typo, 'gth_123', 'not a token']) {
        const res = await app.request({ method: 'POST', url: '/api/users', payload: makeUser(), token });
        expectProblem(res, 401, 'unauthenticated');
        expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
      }
    });
  });

  describe('audit', () => {
    it('one audit row and one outbox event per create, sharing an id', async () => {
      const before = await counts(app);
      const res = await post(makeUser(), { 'x-request-id': 'audit-create-1', 'user-agent': 'vitest' });
      const user = res.json();
      const after = await counts(app);
      expect(after.audit - before.audit).toBe(1);
      expect(after.outbox - before.outbox).toBe(1);
      const { db } = app.database;
      const row = await db
        .selectFrom('audit_events')
        .selectAll()
        .where('request_id', '=', 'audit-create-1')
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({
        action: 'user.create',
        outcome: 'success',
        actor: app.adminId,
        actor_name: 'admin',
        target_type: 'user',
        target_id: user.id,
        user_agent: 'vitest',
      });
      const changes = typeof row.changes === 'string' ? JSON.parse(row.changes) : row.changes;
      expect(changes).toEqual({ before: null, after: user });
      const event = await db
        .selectFrom('outbox')
        .selectAll()
        .where('id', '=', row.id)
        .executeTakeFirstOrThrow();
      expect(event.type).toBe('user.create');
      expect(typeof event.data === 'string' ? JSON.parse(event.data) : event.data).toEqual(user);
    });

    it('a duplicate leaves one error row and no event', async () => {
      const before = await counts(app);
      await post({ username: 'alice' }, { 'x-request-id': 'audit-dup-1' });
      const after = await counts(app);
      expect(after.outbox).toBe(before.outbox);
      expect(after.audit - before.audit).toBe(1);
      const row = await app.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('request_id', '=', 'audit-dup-1')
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ action: 'user.create', outcome: 'error', changes: null });
    });

    it('a 401 leaves one denied row by anonymous, and a validation error none', async () => {
      const before = await counts(app);
      await app.request({
        method: 'POST',
        url: '/api/users',
        payload: makeUser(),
        token: null,
        headers: { 'x-request-id': 'audit-401' },
      });
      await post({ username: 'x', bogus: 1 });
      const after = await counts(app);
      expect(after.audit - before.audit).toBe(1);
      const row = await app.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('request_id', '=', 'audit-401')
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ action: 'user.create', outcome: 'denied', actor: 'anonymous' });
    });

    it('chains each row to the previous one', async () => {
      const rows = await app.database.db
        .selectFrom('audit_events')
        .select(['seq', 'prev_hash', 'hash'])
        .orderBy('seq')
        .execute();
      expect(rows.length).toBeGreaterThan(3);
      rows.forEach((row, i) => {
        expect(Number(row.seq)).toBe(i + 1);
        if (i > 0) expect(row.prev_hash).toBe(rows[i - 1]!.hash);
      });
    });
  });
});
