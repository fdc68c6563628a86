import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';
import { systemCtx } from '../../src/lib/request-ctx.js';

const DAY = 24 * 3600 * 1000;

forEachDialect((database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(database().url);
    for (let i = 0; i < 20; i++) {
      app.clock.advance(60_000);
      await app.request({
        method: 'POST',
        url: '/api/users',
        payload: makeUser({ display_name: i === 3 ? '=HYPERLINK("http://x")' : `User, "${i}"` }),
      });
    }
  });
  afterAll(async () => app?.close());

  const db = () => app.database.db;
  const verify = async () => (await app.request({ method: 'GET', url: '/api/audit/verify' })).json();
  const ndjson = async (query = '') => {
    const res = await app.request({ method: 'GET', url: `/api/audit/export${query}` });
    expect(res.statusCode, res.body).toBe(200);
    return res;
  };

  describe('succeeds', () => {
    it('verifies an untouched chain', async () => {
      const result = await verify();
      expect(result).toMatchObject({ status: 'ok', first_seq: 1, broken: null });
      expect(result.checked).toBeGreaterThan(20);
    });

    it('exports the filtered events oldest first as NDJSON, one JSON event per line', async () => {
      const res = await ndjson('?action=user.create');
      expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
      const lines = res.body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const expected = await db()
        .selectFrom('audit_events')
        .select('seq')
        .where('action', '=', 'user.create')
        .orderBy('seq')
        .execute();
      expect(lines.map((e) => e.seq)).toEqual(expected.map((r) => Number(r.seq)));
      expect(lines[0]).toMatchObject({
        action: 'user.create',
        changes: { after: { username: expect.any(String) } },
      });
    });

    it('exports CSV with a header, RFC 4180 quoting and formula cells neutralised', async () => {
      const res = await ndjson('?format=csv&action=user.create');
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      const [header, ...rows] = res.body.trim().split('\n');
      expect(header).toBe(
        'seq,id,ts,actor,actor_name,token_id,action,target_type,target_id,outcome,request_id,ip,user_agent,detail,changes,prev_hash,hash',
      );
      expect(rows.length).toBe(21);
      // A display name with a comma and quotes survives inside the quoted JSON of `changes`.
      expect(res.body).toContain('""display_name"":""User, \\""5\\');
      expect(res.body).not.toMatch(/(^|,)"?=HYPERLINK/m);
    });

    it('exports more rows than one batch, in order, without gaps', async () => {
      for (let i = 0; i < 30; i++)
        await app.request({ method: 'GET', url: '/api/users?limit=1', token: null });
      const lines = (await ndjson()).body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).seq as number);
      lines.forEach((s, i) => expect(s).toBe(i + 1));
    });

    it('writes each NDJSON line as the event the API answers for its id', async () => {
      const lines = (await ndjson()).body.trim().split('\n');
      for (const line of lines.slice(0, 40)) {
        const exported = JSON.parse(line) as { id: string };
        const one = await app.request({ method: 'GET', url: `/api/audit/${exported.id}` });
        expect(exported).toEqual(one.json());
      }
    });

    it('writes lines in the database exactly as JSON.stringify would, whatever the strings hold', async () => {
      // A row written straight into the table (outside the chain, removed again) with every column that the
      // database quotes holding quotes, backslashes, control characters, non-Latin text and emoji.
      const nasty = 'q"uote\\back\nline\ttab\u0001\u001f\u007f é 中文 😀 \u2028 </script>';
      const { seq } = await db()
        .selectFrom('audit_events')
        .select('seq')
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirstOrThrow();
      const id = 'evt_01jz0000000000000000000000';
      const row = {
        seq: Number(seq) + 1000,
        id,
        ts: Date.UTC(2031, 0, 2, 3, 4, 5, 7),
        actor: nasty,
        actor_name: nasty,
        token_id: null,
        action: 'user.update',
        resource: 'user',
        verb: 'update',
        target_type: nasty,
        target_id: null,
        outcome: 'error' as const,
        request_id: nasty,
        ip: '::1',
        user_agent: nasty,
        changes: JSON.stringify({ before: null, after: { display_name: nasty } }),
        detail: nasty,
        prev_hash: 'a'.repeat(64),
        hash: 'b'.repeat(64),
      };
      await db().insertInto('audit_events').values(row).execute();
      try {
        const lines = (await ndjson()).body.trim().split('\n');
        const line = lines.find((l) => l.includes(id));
        // In the order of the one event schema (src/modules/journal/event.ts), which the line follows.
        const event = {
          seq: row.seq,
          id,
          ts: '2031-01-02T03:04:05.007Z',
          actor: nasty,
          actor_name: nasty,
          token_id: null,
          action: 'user.update',
          target: { type: nasty, id: null },
          outcome: 'error',
          request_id: nasty,
          ip: '::1',
          user_agent: nasty,
          detail: nasty,
          changes: { before: null, after: { display_name: nasty } },
          prev_hash: row.prev_hash,
          hash: row.hash,
        };
        expect(JSON.parse(line ?? 'null')).toEqual(event);
        // PostgreSQL stores `changes` as jsonb, whose text has its own spacing; everything else is byte-exact.
        if (database().name === 'sqlite') expect(line).toBe(JSON.stringify(event));
        else
          expect(line?.replace(/"changes":[\s\S]*,"prev_hash":/, '')).toBe(
            JSON.stringify(event).replace(/"changes":[\s\S]*,"prev_hash":/, ''),
          );
        // Every ordinary line too: the API's event for the same id, serialised by JSON.stringify.
        for (const l of lines.filter((x) => x !== line).slice(0, 25)) {
          const api = (
            await app.request({ method: 'GET', url: `/api/audit/${(JSON.parse(l) as { id: string }).id}` })
          ).json();
          expect(JSON.parse(l)).toEqual(api);
          if (database().name === 'sqlite') expect(l).toBe(JSON.stringify(api));
        }
      } finally {
        await db().deleteFrom('audit_events').where('id', '=', id).execute();
      }
    });

    it('exports every matching event once across many reads, over seq gaps and with a sparse filter', async () => {
      // Rows written straight into the table (outside the chain, removed again): 6,000 seqs with gaps of 3,
      // far more than one read (1,000 rows on SQLite, a 1,000-seq first range on PostgreSQL, which doubles).
      const { seq } = await db()
        .selectFrom('audit_events')
        .select('seq')
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirstOrThrow();
      const base = Number(seq) + 10;
      const rows = Array.from({ length: 6000 }, (_, i) => ({
        seq: base + i * 3,
        id: `evt_01jz1${String(i).padStart(21, '0')}`,
        ts: Date.UTC(2031, 0, 1) + i,
        actor: i % 97 === 0 ? 'user_sparse' : 'system',
        actor_name: null,
        token_id: null,
        action: 'user.update',
        resource: 'user',
        verb: 'update',
        target_type: null,
        target_id: null,
        outcome: 'success' as const,
        request_id: null,
        ip: null,
        user_agent: null,
        changes: null,
        detail: null,
        prev_hash: 'a'.repeat(64),
        hash: 'b'.repeat(64),
      }));
      for (let i = 0; i < rows.length; i += 500)
        await db()
          .insertInto('audit_events')
          .values(rows.slice(i, i + 500))
          .execute();
      try {
        const seqs = async (query: string) =>
          (await ndjson(query)).body
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l).seq as number);
        const all = await seqs('');
        expect(all.slice(-rows.length)).toEqual(rows.map((r) => r.seq));
        expect(new Set(all).size).toBe(all.length);
        expect(await seqs('?actor=user_sparse')).toEqual(
          rows.filter((r) => r.actor === 'user_sparse').map((r) => r.seq),
        );
      } finally {
        await db().deleteFrom('audit_events').where('seq', '>=', base).execute();
      }
    });

    it('exports the log as the export starts, its own audit.export event included, on both dialects', async () => {
      // More events than one read (1,000 rows on SQLite, a 1,000-seq first range on PostgreSQL): denied requests.
      await Promise.all(
        Array.from({ length: 1100 }, () =>
          app.request({ method: 'GET', url: '/api/users?limit=1', token: null }),
        ),
      );
      const stream = await app.services.audit.export(systemCtx('test'), {});
      const chunks: string[] = [];
      const reader = stream[Symbol.asyncIterator]();
      const first = await reader.next(); // the export has read where the log ends
      chunks.push(String(first.value));
      const late = await app.request({ method: 'POST', url: '/api/users', payload: makeUser() });
      expect(late.statusCode).toBe(201);
      for (let r = await reader.next(); !r.done; r = await reader.next()) chunks.push(String(r.value));
      const events = chunks
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { action: string; target: { id: string } | null });
      expect(events.at(-1)?.action).toBe('audit.export');
      expect(events.some((e) => e.target?.id === late.json().id)).toBe(false);
    });

    it('exports exactly the events of a since/until window, also past the first batch', async () => {
      const rows = await db().selectFrom('audit_events').select(['seq', 'ts']).orderBy('seq').execute();
      const since = new Date(Number(rows[5]!.ts)).toISOString();
      const until = new Date(Number(rows[rows.length - 3]!.ts)).toISOString();
      const got = (await ndjson(`?since=${since}&until=${until}`)).body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).seq as number);
      const want = rows
        .filter((r) => Number(r.ts) >= Date.parse(since) && Number(r.ts) < Date.parse(until))
        .map((r) => Number(r.seq));
      expect(want.length).toBeGreaterThan(10);
      expect(got).toEqual(want);
    });

    it('keeps the chain intact and seq gapless under concurrent writes', async () => {
      const before = await verify();
      const answers = await Promise.all(
        Array.from({ length: 40 }, () =>
          app.request({ method: 'POST', url: '/api/users', payload: makeUser() }),
        ),
      );
      expect(answers.map((a) => a.statusCode)).toEqual(answers.map(() => 201));
      const after = await verify();
      expect(after).toMatchObject({ status: 'ok', broken: null });
      // 40 user.create events and the verify's own audit.verify event.
      expect(after.checked).toBe(Number(before.checked) + 41);
      const seqs = (await db().selectFrom('audit_events').select('seq').orderBy('seq').execute()).map((r) =>
        Number(r.seq),
      );
      seqs.forEach((s, i) => expect(s).toBe(seqs[0]! + i));
    });
  });

  describe('rejects', () => {
    // Each case tampers in the database itself, checks verify names the first broken link, then restores.
    it('an edited event: hash_mismatch at its seq', async () => {
      const { seq, detail } = await db()
        .selectFrom('audit_events')
        .select(['seq', 'detail'])
        .orderBy('seq', 'desc')
        .offset(3)
        .limit(1)
        .executeTakeFirstOrThrow();
      await db()
        .updateTable('audit_events')
        .set({ detail: 'nothing to see' })
        .where('seq', '=', seq)
        .execute();
      expect((await verify()).broken).toMatchObject({ seq: Number(seq), reason: 'hash_mismatch' });
      await db().updateTable('audit_events').set({ detail }).where('seq', '=', seq).execute();
      expect((await verify()).status).toBe('ok');
    });

    it('an edited actor or changes: hash_mismatch', async () => {
      const row = await db()
        .selectFrom('audit_events')
        .selectAll()
        .where('action', '=', 'user.create')
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirstOrThrow();
      await db()
        .updateTable('audit_events')
        .set({ actor: 'someone_else' })
        .where('seq', '=', row.seq)
        .execute();
      expect((await verify()).broken).toMatchObject({ seq: Number(row.seq), reason: 'hash_mismatch' });
      await db()
        .updateTable('audit_events')
        .set({ actor: row.actor, changes: JSON.stringify({ before: null, after: { username: 'forged' } }) })
        .where('seq', '=', row.seq)
        .execute();
      expect((await verify()).broken).toMatchObject({ seq: Number(row.seq), reason: 'hash_mismatch' });
      await db()
        .updateTable('audit_events')
        .set({ changes: row.changes })
        .where('seq', '=', row.seq)
        .execute();
      expect((await verify()).status).toBe('ok');
    });

    it('a deleted event: missing at its seq', async () => {
      const row = await db()
        .selectFrom('audit_events')
        .selectAll()
        .orderBy('seq', 'desc')
        .offset(5)
        .limit(1)
        .executeTakeFirstOrThrow();
      await db().deleteFrom('audit_events').where('seq', '=', row.seq).execute();
      expect((await verify()).broken).toMatchObject({ seq: Number(row.seq), reason: 'missing' });
      await db().insertInto('audit_events').values(row).execute();
      expect((await verify()).status).toBe('ok');
    });

    it('reordered events: broken at the first moved seq', async () => {
      const [a, b] = await db()
        .selectFrom('audit_events')
        .select('seq')
        .orderBy('seq', 'desc')
        .offset(8)
        .limit(2)
        .execute();
      const [hi, lo] = [Number(a!.seq), Number(b!.seq)];
      const swap = async () => {
        await sql`update audit_events set seq = -1 where seq = ${lo}`.execute(db());
        await sql`update audit_events set seq = ${lo} where seq = ${hi}`.execute(db());
        await sql`update audit_events set seq = ${hi} where seq = -1`.execute(db());
      };
      await swap();
      const broken = (await verify()).broken;
      expect(broken.seq).toBe(lo);
      expect(['hash_mismatch', 'prev_hash_mismatch']).toContain(broken.reason);
      await swap();
      expect((await verify()).status).toBe('ok');
    });

    it('the newest events deleted: the chain no longer reaches the head', async () => {
      const last = await db()
        .selectFrom('audit_events')
        .selectAll()
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirstOrThrow();
      await db().deleteFrom('audit_events').where('seq', '=', last.seq).execute();
      const result = await verify();
      expect(result.status).toBe('broken');
      expect(result.broken.seq).toBe(Number(last.seq));
      await db().insertInto('audit_events').values(last).execute();
    });

    it('an export with a bad filter: 400 problem, not a broken stream', async () => {
      expectProblem(
        await app.request({ method: 'GET', url: '/api/audit/export?since=nope' }),
        400,
        'validation_failed',
      );
      expectProblem(
        await app.request({ method: 'GET', url: '/api/audit/export?format=xml' }),
        400,
        'validation_failed',
      );
    });
  });

  describe('succeeds after tampering is undone', () => {
    it('retention deletes old events in an audited purge, and the chain still verifies', async () => {
      const before = Number(
        (
          await db()
            .selectFrom('audit_events')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
      app.clock.advance(365 * DAY + 3600_000); // past retention, within the bootstrap token's 366 days
      await app.request({ method: 'POST', url: '/api/users', payload: makeUser() });
      const deleted = await app.services.audit.purge();
      expect(deleted).toBe(before);
      const purge = await db()
        .selectFrom('audit_events')
        .selectAll()
        .where('action', '=', 'audit.purge')
        .executeTakeFirstOrThrow();
      expect(purge).toMatchObject({ actor: 'system', outcome: 'success' });
      const outbox = await db()
        .selectFrom('outbox')
        .select('type')
        .where('id', '=', purge.id)
        .executeTakeFirstOrThrow();
      expect(outbox.type).toBe('audit.purge');
      const result = await verify();
      expect(result).toMatchObject({ status: 'ok', first_seq: before + 1 });
      expect(await app.services.audit.purge()).toBe(0);
    });
  });
});
