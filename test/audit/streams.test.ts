import { Webhook as Verifier } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  counts,
  expectProblem,
  makePrincipal,
  makeUser,
  startTestApp,
  type TestApp,
} from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';
import { startReceiver, type Received, type Receiver } from '../helpers/receiver.js';

type Stream = {
  id: string;
  name: string;
  url: string;
  actions: string[];
  status: 'active' | 'paused';
  last_seq: number;
  lag: number;
  last_error: string | null;
  created_at: string;
  secret?: string;
};
type Line = { id: string; seq: number; action: string; hash: string; prev_hash: string; outcome: string };

/** Every line of every batch received, in arrival order, each batch verified with its stream's secret. */
function linesOf(batches: Received[], secret: string): { raw: string; event: Line }[] {
  const out: { raw: string; event: Line }[] = [];
  for (const b of batches) {
    expect(b.headers['content-type']).toBe('application/x-ndjson');
    // NDJSON is no JSON document: verify the signature only.
    new Verifier(secret).verify(b.body, b.headers as Record<string, string>, { jsonParse: false });
    expect(b.body.endsWith('\n')).toBe(true);
    for (const raw of b.body.slice(0, -1).split('\n')) out.push({ raw, event: JSON.parse(raw) as Line });
  }
  return out;
}

/** Each seq once, consecutive from `from`, and each line's prev_hash the previous line's hash. */
function expectChain(lines: { event: Line }[], from: number): void {
  expect(lines.map((l) => l.event.seq)).toEqual(lines.map((_, i) => from + i));
  for (let i = 1; i < lines.length; i++) expect(lines[i]!.event.prev_hash).toBe(lines[i - 1]!.event.hash);
}

forEachDialect((database) => {
  let app: TestApp;
  let rx: Receiver;
  let n = 0;
  const setPrivate = async (allow: boolean) => {
    const res = await app.request({
      method: 'PATCH',
      url: '/api/config',
      payload: JSON.stringify({ webhooks: { allow_private_targets: allow } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(res.statusCode, res.body).toBe(200);
  };
  beforeAll(async () => {
    app = await startTestApp(database().url);
    rx = await startReceiver();
    await setPrivate(true);
  });
  afterAll(async () => {
    await app?.close();
    await rx?.close();
  });
  beforeEach(() => {
    rx.received.length = 0;
  });

  /** A stream on its own receiver path. */
  async function stream(extra: Record<string, unknown> = {}, token?: string) {
    const path = `/stream${n++}`;
    const res = await app.request({
      method: 'POST',
      url: '/api/audit/streams',
      payload: { name: `s${n}-${process.pid}`, url: rx.url(path), ...extra },
      ...(token ? { token } : {}),
    });
    expect(res.statusCode, res.body).toBe(201);
    return { ...res.json<Stream & { secret: string }>(), path };
  }
  const get = async (id: string): Promise<Stream> =>
    (await app.request({ method: 'GET', url: `/api/audit/streams/${id}` })).json();
  const newUser = async () => {
    const res = await app.request({ method: 'POST', url: '/api/users', payload: makeUser() });
    expect(res.statusCode).toBe(201);
    return res.json<{ id: string }>();
  };
  const head = async () => app.services.audit.headSeq();

  describe('succeeds', () => {
    it('creates, reads, lists, updates and deletes a stream; the secret only in the create answer', async () => {
      const s = await stream({ actions: ['user.*', 'create'] });
      expect(s).toMatchObject({
        id: expect.stringMatching(/^stream_/),
        url: rx.url(s.path),
        actions: ['user.*', 'create'],
        status: 'active',
        last_error: null,
        lag: expect.any(Number),
        last_seq: expect.any(Number),
        created_at: expect.stringMatching(/Z$/),
        secret: expect.stringMatching(/^whsec_/),
      });
      const read = await app.request({ method: 'GET', url: `/api/audit/streams/${s.id}` });
      expect(read.statusCode).toBe(200);
      expect(read.body).not.toContain('whsec_');
      expect(read.json()).toMatchObject({ id: s.id, name: s.name, status: 'active' });
      const list = await app.request({ method: 'GET', url: '/api/audit/streams?limit=500' });
      expect(list.statusCode).toBe(200);
      expect(list.body).not.toContain('whsec_');
      expect((list.json().data as Stream[]).map((x) => x.id)).toContain(s.id);
      const put = await app.request({
        method: 'PUT',
        url: `/api/audit/streams/${s.id}`,
        payload: { name: `renamed-${s.id}`, status: 'paused' },
      });
      expect(put.statusCode, put.body).toBe(200);
      expect(put.json()).toMatchObject({ name: `renamed-${s.id}`, status: 'paused', actions: s.actions });
      const del = await app.request({ method: 'DELETE', url: `/api/audit/streams/${s.id}` });
      expect(del.statusCode).toBe(204);
      expectProblem(
        await app.request({ method: 'GET', url: `/api/audit/streams/${s.id}` }),
        404,
        'not_found',
      );
    });

    it('delivers every event once, in seq order, as GET /api/audit/{id} shows it, chained and signed', async () => {
      const from = (await head()) + 1;
      const s = await stream();
      const weak = await makePrincipal(app, { permissions: ['users:read'] });
      for (let i = 0; i < 3; i++) await newUser();
      // A denial is an audit event with no outbox event: the stream carries it too.
      expect(
        (await app.request({ method: 'POST', url: '/api/users', payload: {}, token: weak.token })).statusCode,
      ).toBe(403);
      await app.relay.runOnce();
      const lines = linesOf(rx.at(s.path), s.secret);
      expect(lines.length).toBe((await head()) - from + 1);
      expect(lines[0]!.event).toMatchObject({ action: 'audit_stream.create', seq: from });
      expectChain(lines, from);
      expect(lines.some((l) => l.event.outcome === 'denied')).toBe(true);
      for (const l of lines.slice(0, 5)) {
        const shown = await app.request({ method: 'GET', url: `/api/audit/${l.event.id}` });
        expect(l.raw).toBe(shown.body);
      }
      // Reading the log is audited too: those reads come next, and then nothing is sent again.
      await app.relay.runOnce();
      const all = linesOf(rx.at(s.path), s.secret);
      expectChain(all, from);
      expect(all.slice(lines.length).map((l) => l.event.action)).toEqual(Array(5).fill('audit.read'));
      await app.relay.runOnce();
      expect(linesOf(rx.at(s.path), s.secret)).toHaveLength(all.length);
      expect(await get(s.id)).toMatchObject({ last_seq: all.at(-1)!.event.seq, last_error: null, lag: 0 });
      await app.request({ method: 'DELETE', url: `/api/audit/streams/${s.id}` });
    });

    it('sends only the actions it asks for, and its cursor still reaches the head', async () => {
      const s = await stream({ actions: ['user.create', 'delete'] });
      const u = await newUser();
      await app.request({ method: 'PUT', url: `/api/users/${u.id}`, payload: { display_name: 'X' } });
      await app.request({ method: 'DELETE', url: `/api/users/${u.id}` });
      await app.relay.runOnce();
      const actions = linesOf(rx.at(s.path), s.secret).map((l) => l.event.action);
      expect(actions).toEqual(['user.create', 'user.delete']);
      const now = await get(s.id);
      expect(now.lag).toBe((await head()) - now.last_seq);
      expect(now.last_seq).toBeGreaterThanOrEqual((await head()) - 1);
      await app.request({ method: 'DELETE', url: `/api/audit/streams/${s.id}` });
    });

    it('pauses itself when the receiver is gone (error shown); resume from a seq replays from there', async () => {
      const gone = await startReceiver();
      const res = await app.request({
        method: 'POST',
        url: '/api/audit/streams',
        payload: { name: `gone-${process.pid}`, url: gone.url('/in') },
      });
      const s = res.json<Stream & { secret: string }>();
      await newUser();
      await app.relay.runOnce();
      const firstBatch = linesOf(gone.at('/in'), s.secret);
      expect(firstBatch.length).toBeGreaterThan(0);
      await gone.close();
      await newUser();
      for (let attempt = 1; attempt <= 5; attempt++) {
        await app.relay.runOnce();
        const now = await get(s.id);
        expect(now.status, `after attempt ${attempt}`).toBe(attempt < 5 ? 'active' : 'paused');
        expect(now.last_error).toMatch(/ECONNREFUSED|connect|closed|other side/i);
        // Backoff: nothing is tried again before it is due.
        await app.relay.runOnce();
        app.clock.advance(121_000);
      }
      const paused = await get(s.id);
      expect(paused.last_error).toMatch(/^paused after 5 failed attempts/);
      expect(paused.last_seq).toBe(firstBatch.at(-1)!.event.seq);
      const pause = await app.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('action', '=', 'audit_stream.pause')
        .where('target_id', '=', s.id)
        .execute();
      expect(pause.map((p) => p.actor)).toEqual(['system']);
      // Paused: nothing is sent, whatever is due.
      await app.relay.runOnce();

      const back = await startReceiver();
      const moved = await app.request({
        method: 'PUT',
        url: `/api/audit/streams/${s.id}`,
        payload: { url: back.url('/in') },
      });
      expect(moved.json()).toMatchObject({ status: 'paused' });
      const replayFrom = firstBatch[0]!.event.seq;
      const resumed = await app.request({
        method: 'POST',
        url: `/api/audit/streams/${s.id}/resume`,
        payload: { from_seq: replayFrom },
      });
      expect(resumed.statusCode, resumed.body).toBe(200);
      expect(resumed.json()).toMatchObject({ status: 'active', last_error: null, last_seq: replayFrom - 1 });
      await app.relay.runOnce();
      const replayed = linesOf(back.at('/in'), s.secret);
      expectChain(replayed, replayFrom);
      expect(replayed.at(-1)!.event.seq).toBe(await head());
      expect(replayed.map((l) => l.event.action)).toContain('audit_stream.pause');
      // A resume without a body goes on where it stopped.
      const again = await app.request({ method: 'POST', url: `/api/audit/streams/${s.id}/resume` });
      expect(again.statusCode, again.body).toBe(200);
      await back.close();
      await app.request({ method: 'DELETE', url: `/api/audit/streams/${s.id}` });
    });

    it('replays the whole log from seq 1 in batches of at most 100 events', async () => {
      // Queries of the log are audited: enough of them for several batches.
      for (let i = 0; i < 110; i++) await app.request({ method: 'GET', url: '/api/audit?limit=1' });
      const s = await stream({ from_seq: 1 });
      expect(s.last_seq).toBe(0);
      expect(s.lag).toBe(await head());
      await app.relay.runOnce();
      const batches = rx.at(s.path);
      expect(batches.length).toBeGreaterThan(1);
      for (const b of batches) expect(b.body.split('\n').length - 1).toBeLessThanOrEqual(100);
      const lines = linesOf(batches, s.secret);
      expectChain(lines, 1);
      expect(lines.at(-1)!.event.seq).toBe(await head());
      await app.request({ method: 'DELETE', url: `/api/audit/streams/${s.id}` });
    });

    it('a live relay sends soon after a commit; stopping it gives its leases back', async () => {
      const s = await stream();
      app.relay.start(50);
      try {
        const u = await newUser();
        const deadline = Date.now() + 5000;
        while (!rx.at(s.path).some((b) => b.body.includes(u.id)) && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 20));
        expect(rx.at(s.path).some((b) => b.body.includes(u.id))).toBe(true);
      } finally {
        await app.relay.stop();
      }
      const row = await app.database.db
        .selectFrom('audit_streams')
        .select(['lock_token', 'locked_until'])
        .where('id', '=', s.id)
        .executeTakeFirstOrThrow();
      expect(row).toEqual({ lock_token: null, locked_until: null });
      await app.request({ method: 'DELETE', url: `/api/audit/streams/${s.id}` });
    });
  });

  describe('rejects', () => {
    it('bad bodies and ids with problems, changing nothing', async () => {
      const before = await counts(app);
      const post = (payload: unknown) =>
        app.request({ method: 'POST', url: '/api/audit/streams', payload: payload as object });
      const ok = { name: 'bad', url: rx.url('/bad') };
      for (const [body, pointer] of [
        [{ url: rx.url('/x') }, '/name'],
        [{ ...ok, id: 'stream_x' }, '/id'],
        [{ ...ok, actions: ['User.Create'] }, '/actions/0'],
        [{ ...ok, actions: [] }, '/actions'],
        [{ ...ok, from_seq: -1 }, '/from_seq'],
        [{ ...ok, from_seq: 1e20 }, '/from_seq'],
        [{ ...ok, url: 'ftp://example.com/x' }, '/url'],
        [{ ...ok, url: 'not a url' }, '/url'],
        [{ ...ok, from_seq: (await head()) + 50 }, '/from_seq'],
        [{ ...ok, secret: 'whsec_x' }, '/secret'],
      ] as const) {
        const p = expectProblem(await post(body), 400, 'validation_failed');
        expect(p.errors?.[0]?.pointer, JSON.stringify(body)).toBe(pointer);
      }
      for (const id of ['stream_x', 'whk_01jd8y6v7kf3zr4x6qk9n2m1ab', 'stream_01jd8y6v7kf3zr4x6qk9n2m1ab']) {
        expectProblem(
          await app.request({ method: 'GET', url: `/api/audit/streams/${id}` }),
          404,
          'not_found',
        );
        expectProblem(
          await app.request({ method: 'POST', url: `/api/audit/streams/${id}/resume`, payload: {} }),
          404,
          'not_found',
        );
      }
      const s = await stream();
      const after = await counts(app);
      expect(after.outbox).toBe(before.outbox + 1); // only the create
      expectProblem(
        await app.request({ method: 'PUT', url: `/api/audit/streams/${s.id}`, payload: {} }),
        400,
        'validation_failed',
      );
      expectProblem(await post({ name: s.name, url: rx.url('/dup') }), 409, 'audit_stream.name_taken');
      expectProblem(
        await app.request({
          method: 'POST',
          url: `/api/audit/streams/${s.id}/resume`,
          payload: { from_seq: 1, extra: true },
        }),
        400,
        'validation_failed',
      );
      expect((await counts(app)).outbox).toBe(after.outbox);
      await app.request({ method: 'DELETE', url: `/api/audit/streams/${s.id}` });
    });

    it('audit:read views but cannot manage; audit:write without audit:read cannot create', async () => {
      const reader = await makePrincipal(app, { permissions: ['audit:read'] });
      expect(
        (await app.request({ method: 'GET', url: '/api/audit/streams', token: reader.token })).statusCode,
      ).toBe(200);
      const writer = await makePrincipal(app, { permissions: ['audit:write'] });
      for (const [token, missing] of [
        [reader.token, 'audit:write'],
        [writer.token, 'audit:read'],
      ] as const) {
        const before = await counts(app);
        const res = await app.request({
          method: 'POST',
          url: '/api/audit/streams',
          payload: { name: missing, url: rx.url('/refused') },
          token,
        });
        expect(expectProblem(res, 403, 'forbidden').required_permission).toBe(missing);
        const after = await counts(app);
        // One denied audit row, no event.
        expect({ audit: after.audit - before.audit, outbox: after.outbox - before.outbox }).toEqual({
          audit: 1,
          outbox: 0,
        });
      }
    });

    it('a stream whose creator lost audit:read delivers nothing and says so in last_error', async () => {
      const owner = await makePrincipal(app, { permissions: ['audit:read', 'audit:write'] });
      const s = await stream({}, owner.token);
      const taken = await app.request({
        method: 'DELETE',
        url: `/api/users/${owner.userId}/roles/${owner.roleId}`,
      });
      expect(taken.statusCode, taken.body).toBe(204);
      await newUser();
      await app.relay.runOnce();
      expect(rx.at(s.path)).toEqual([]);
      const now = await get(s.id);
      expect(now).toMatchObject({
        status: 'active',
        last_error: expect.stringMatching(/^withheld, nothing sent/),
      });
      expect(now.lag).toBeGreaterThan(0);
      await app.request({ method: 'DELETE', url: `/api/audit/streams/${s.id}` });
    });

    it('refuses internal targets unless private targets are allowed, at save and at send', async () => {
      const s = await stream();
      await setPrivate(false);
      try {
        for (const url of [
          'https://[::ffff:127.0.0.1]/in',
          'https://[::ffff:7f00:1]/in',
          'http://127.0.0.1:9/in',
        ]) {
          const p = expectProblem(
            await app.request({ method: 'POST', url: '/api/audit/streams', payload: { name: 'ssrf', url } }),
            400,
            'validation_failed',
          );
          expect(p.errors?.[0]?.pointer).toBe('/url');
        }
        await newUser();
        await app.relay.runOnce();
        expect(rx.at(s.path)).toEqual([]);
        expect((await get(s.id)).last_error).toMatch(/refused: 127\.0\.0\.1 is an internal address/);
      } finally {
        await setPrivate(true);
      }
      app.clock.advance(2000);
      await app.relay.runOnce();
      expect(rx.at(s.path).length).toBeGreaterThan(0);
      expect((await get(s.id)).last_error).toBeNull();
      await app.request({ method: 'DELETE', url: `/api/audit/streams/${s.id}` });
    });
  });

  describe('audit', () => {
    it('each change is one audit row and one outbox event; the secret is in neither', async () => {
      const steps: [string, () => Promise<unknown>][] = [];
      let id = '';
      steps.push(['audit_stream.create', async () => (id = (await stream()).id)]);
      steps.push([
        'audit_stream.update',
        () => app.request({ method: 'PUT', url: `/api/audit/streams/${id}`, payload: { status: 'paused' } }),
      ]);
      steps.push([
        'audit_stream.resume',
        () =>
          app.request({ method: 'POST', url: `/api/audit/streams/${id}/resume`, payload: { from_seq: 1 } }),
      ]);
      steps.push([
        'audit_stream.delete',
        () => app.request({ method: 'DELETE', url: `/api/audit/streams/${id}` }),
      ]);
      for (const [action, run] of steps) {
        const before = await counts(app);
        await run();
        const after = await counts(app);
        expect({ audit: after.audit - before.audit, outbox: after.outbox - before.outbox }, action).toEqual({
          audit: 1,
          outbox: 1,
        });
        const row = await app.database.db
          .selectFrom('audit_events')
          .selectAll()
          .orderBy('seq', 'desc')
          .limit(1)
          .executeTakeFirstOrThrow();
        expect(row.action).toBe(action);
        expect(row.target_id).toBe(id);
        expect(row.changes ?? '').not.toContain('whsec_');
      }
    });
  });

  describe('survives a restart', () => {
    it('goes on from its acknowledged cursor, without gaps, and waits out a dead relay’s lease', async () => {
      const from = (await head()) + 1;
      const s = await stream();
      await newUser();
      await app.relay.runOnce();
      await newUser(); // committed, not yet sent when the first instance stops
      const first = app;
      await first.close();
      app = await startTestApp(database().url, { auditKey: first.auditKey, restartOf: first });
      await setPrivate(true);
      await newUser();
      // The instance before died holding the stream's lease: nobody sends it until the lease runs out.
      const now = app.clock.now();
      await app.database.db
        .updateTable('audit_streams')
        .set({ lock_token: 'rly_dead', locked_until: now + 30_000 })
        .where('id', '=', s.id)
        .execute();
      const sent = rx.at(s.path).length;
      await app.relay.runOnce();
      expect(rx.at(s.path).length).toBe(sent);
      app.clock.advance(30_001);
      await app.relay.runOnce();
      const lines = linesOf(rx.at(s.path), s.secret);
      expectChain(lines, from);
      expect(lines.at(-1)!.event.seq).toBe(await head());
    });

    it('two instances relaying at once send each event once', async () => {
      const other = await startTestApp(database().url, { auditKey: app.auditKey, restartOf: app });
      try {
        const from = (await head()) + 1;
        const s = await stream();
        for (let i = 0; i < 5; i++) {
          await newUser();
          await Promise.all([app.relay.runOnce(), other.relay.runOnce()]);
        }
        const lines = linesOf(rx.at(s.path), s.secret);
        expectChain(lines, from);
      } finally {
        await other.close();
      }
    });
  });
});
