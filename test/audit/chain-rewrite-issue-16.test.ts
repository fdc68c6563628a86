import { createPublicKey, verify as verifySignature } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEventsTable } from '../../src/db/tables.js';
import { chainHash } from '../../src/modules/journal/event.js';
import { expectProblem, makePrincipal, makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

const canonicalize = canonicalizeModule as unknown as (input: unknown) => string;
const DAY = 24 * 3600 * 1000;
type Checkpoint = {
  seq: number;
  hash: string;
  ts: string;
  issued_at: string;
  key_id: string;
  public_key: string;
  signature: string;
  version: number;
};

// Issue #16, finding 7: the chain was unkeyed, so whoever could write to the database could cut the log's tail
// and rewind audit_head, or rewrite an event and recompute SHA-256 from there to the head, and verify still said
// "intact". Each case tampers in the database itself, as that attacker would, then restores the log.
forEachDialect((database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(database().url);
    for (let i = 0; i < 8; i++) {
      app.clock.advance(60_000);
      await app.request({ method: 'POST', url: '/api/users', payload: makeUser() });
    }
  });
  afterAll(async () => app?.close());

  const db = () => app.database.db;
  const checkpoint = async (): Promise<Checkpoint> => {
    const res = await app.request({ method: 'GET', url: '/api/audit/checkpoint' });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };
  const verify = async () => (await app.request({ method: 'GET', url: '/api/audit/verify' })).json();
  const verifyAgainst = async (cp: unknown) => {
    const res = await app.request({
      method: 'POST',
      url: '/api/audit/verify',
      payload: cp as Record<string, unknown>,
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };
  const events = () => db().selectFrom('audit_events').selectAll().orderBy('seq').execute();
  const addUsers = async (n: number) => {
    for (let i = 0; i < n; i++)
      expect((await app.request({ method: 'POST', url: '/api/users', payload: makeUser() })).statusCode).toBe(
        201,
      );
  };

  /** Runs `tamper`, then puts every event and the head back as they were. */
  async function tampered(tamper: () => Promise<void>, check: () => Promise<void>): Promise<void> {
    const rows = await events();
    const head = await db().selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
    await tamper();
    try {
      await check();
    } finally {
      await db().deleteFrom('audit_events').execute();
      for (let i = 0; i < rows.length; i += 200)
        await db()
          .insertInto('audit_events')
          .values(rows.slice(i, i + 200))
          .execute();
      await db().updateTable('audit_head').set(head).where('id', '=', 1).execute();
    }
  }

  /** The attacker's rewrite: one event's actor changed, every link from it to the head recomputed with `hash`. */
  async function rewriteActor(
    seq: number,
    hash: (row: Omit<AuditEventsTable, 'hash'>) => string,
  ): Promise<void> {
    let prev: string | undefined;
    for (const row of await events()) {
      if (Number(row.seq) < seq) continue;
      const { hash: _old, ...link } = {
        ...row,
        actor: Number(row.seq) === seq ? 'user_01jzmallory0000000000000' : row.actor,
        prev_hash: prev ?? row.prev_hash,
      };
      prev = hash(link);
      await db()
        .updateTable('audit_events')
        .set({ actor: link.actor, prev_hash: link.prev_hash, hash: prev })
        .where('seq', '=', row.seq)
        .execute();
    }
    await db().updateTable('audit_head').set({ hash: prev }).where('id', '=', 1).execute();
  }

  const userCreateSeq = async () =>
    Number(
      (
        await db()
          .selectFrom('audit_events')
          .select('seq')
          .where('action', '=', 'user.create')
          .orderBy('seq', 'desc')
          .offset(2)
          .limit(1)
          .executeTakeFirstOrThrow()
      ).seq,
    );

  describe('rejects', () => {
    it('(a) the newest events deleted and audit_head rewound: verify against an earlier checkpoint reports the cut tail', async () => {
      const cp = await checkpoint();
      await addUsers(3);
      const cut = cp.seq - 4;
      await tampered(
        async () => {
          const last = await db()
            .selectFrom('audit_events')
            .selectAll()
            .where('seq', '=', cut)
            .executeTakeFirstOrThrow();
          await db().deleteFrom('audit_events').where('seq', '>', cut).execute();
          await db()
            .updateTable('audit_head')
            .set({ seq: last.seq, hash: last.hash, ts: last.ts })
            .where('id', '=', 1)
            .execute();
        },
        async () => {
          // The rewound chain is consistent in itself: only what was kept off the database shows the cut.
          expect(await verify()).toMatchObject({ status: 'ok' });
          const result = await verifyAgainst(cp);
          expect(result).toMatchObject({
            status: 'broken',
            checkpoint: { seq: cp.seq, status: 'beyond_head' },
            broken: { reason: 'checkpoint_beyond_head' },
          });
          // The first missing seq: past the rewound head (which the plain verify above moved by its own event).
          expect(result.broken.seq).toBe(Number(result.last_seq) + 1);
          expect(result.last_seq).toBeLessThan(cp.seq);
        },
      );
      expect(await verifyAgainst(cp)).toMatchObject({
        status: 'ok',
        checkpoint: { seq: cp.seq, status: 'ok' },
      });
    });

    it('(b) an actor rewritten and the chain recomputed with plain SHA-256: verify reports the rewritten event', async () => {
      const seq = await userCreateSeq();
      await tampered(
        () => rewriteActor(seq, (row) => chainHash(row)),
        async () => {
          expect(await verify()).toMatchObject({
            status: 'broken',
            broken: { seq, reason: 'hash_mismatch' },
          });
        },
      );
      expect(await verify()).toMatchObject({ status: 'ok' });
    });

    it('(c) the chain recomputed with the key itself: verify against an earlier checkpoint reports the rewrite', async () => {
      const { deriveAuditKeys } = await import('../../src/modules/audit/keys.js');
      const key = deriveAuditKeys(app.auditKey).chain;
      const seq = await userCreateSeq();
      const cp = await checkpoint();
      await addUsers(2);
      await tampered(
        () => rewriteActor(seq, (row) => chainHash(row, key)),
        async () => {
          expect(await verify()).toMatchObject({ status: 'ok' }); // whoever holds the key can recompute the links
          const result = await verifyAgainst(cp);
          expect(result).toMatchObject({
            status: 'broken',
            checkpoint: { seq: cp.seq, status: 'mismatch' },
            broken: { seq: cp.seq, reason: 'checkpoint_mismatch' },
          });
        },
      );
      expect(await verifyAgainst(cp)).toMatchObject({ status: 'ok', checkpoint: { status: 'ok' } });
    });

    it('the seal moved (keyed_from past the head, so every link would pass as plain SHA-256): key_seal_invalid', async () => {
      const seq = await userCreateSeq();
      await tampered(
        async () => {
          const head = await db().selectFrom('audit_head').select('seq').executeTakeFirstOrThrow();
          await rewriteActor(seq, (row) => chainHash(row));
          await db()
            .updateTable('audit_head')
            .set({ keyed_from: Number(head.seq) + 1 })
            .where('id', '=', 1)
            .execute();
        },
        async () => {
          expect(await verify()).toMatchObject({ status: 'broken', broken: { reason: 'key_seal_invalid' } });
        },
      );
    });

    it('a checkpoint with an altered field, or signed by another key: checkpoint_invalid', async () => {
      const cp = await checkpoint();
      for (const forged of [
        { ...cp, seq: cp.seq - 1 },
        { ...cp, hash: '0'.repeat(64) },
        { ...cp, issued_at: new Date(0).toISOString() },
      ]) {
        expect(await verifyAgainst(forged)).toMatchObject({
          status: 'broken',
          checkpoint: { status: 'invalid' },
          broken: { reason: 'checkpoint_invalid' },
        });
      }
      const otherKey = { ...cp, public_key: 'A'.repeat(43), key_id: '0123456789abcdef' };
      expect(await verifyAgainst(otherKey)).toMatchObject({
        status: 'broken',
        checkpoint: { status: 'invalid', detail: expect.stringContaining('0123456789abcdef') },
      });
    });

    it('a body that is not a checkpoint: 400 problem', async () => {
      const cp = await checkpoint();
      const { signature: _, ...unsigned } = cp;
      for (const payload of [
        unsigned,
        { ...cp, seq: 1e20 },
        { ...cp, seq: -1 },
        { ...cp, extra: 1 },
        { ...cp, hash: 'xyz' },
      ]) {
        expectProblem(
          await app.request({ method: 'POST', url: '/api/audit/verify', payload }),
          400,
          'validation_failed',
        );
      }
    });

    it('without audit:read: 403 for the checkpoint and for verify', async () => {
      const { token } = await makePrincipal(app, { permissions: ['users:read'] });
      expectProblem(
        await app.request({ method: 'GET', url: '/api/audit/checkpoint', token }),
        403,
        'forbidden',
      );
      expectProblem(
        await app.request({ method: 'POST', url: '/api/audit/verify', token, payload: await checkpoint() }),
        403,
        'forbidden',
      );
    });
  });

  describe('succeeds', () => {
    it('exports a checkpoint of the head, its own audit.checkpoint event included, that anyone can check with the public key', async () => {
      const cp = await checkpoint();
      const head = await db().selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
      const event = await db()
        .selectFrom('audit_events')
        .selectAll()
        .where('seq', '=', cp.seq)
        .executeTakeFirstOrThrow();
      expect(event).toMatchObject({ action: 'audit.checkpoint', hash: cp.hash });
      expect(Number(head.seq)).toBe(cp.seq);
      expect(cp).toMatchObject({
        version: 1,
        ts: new Date(Number(event.ts)).toISOString(),
        issued_at: expect.any(String),
        key_id: expect.stringMatching(/^[0-9a-f]{16}$/),
      });
      // An outside verifier needs only the public key (pinned once) and RFC 8785 canonical JSON.
      const publicKey = createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: cp.public_key },
        format: 'jwk',
      });
      const { signature, ...fields } = cp;
      expect(
        verifySignature(
          null,
          Buffer.from(canonicalize(fields)),
          publicKey,
          Buffer.from(signature, 'base64url'),
        ),
      ).toBe(true);
    });

    it('verifies against a checkpoint: the chain and the checkpoint both ok, and audits the check', async () => {
      const cp = await checkpoint();
      await addUsers(2);
      const result = await verifyAgainst(cp);
      expect(result).toMatchObject({ status: 'ok', broken: null, checkpoint: { seq: cp.seq, status: 'ok' } });
      const last = await db()
        .selectFrom('audit_events')
        .select(['action', 'detail'])
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirstOrThrow();
      expect(last).toMatchObject({
        action: 'audit.verify',
        detail: expect.stringContaining(`checkpoint seq ${cp.seq} ok`),
      });
      expect((await verify()).checkpoint).toBeNull();
    });

    it('a checkpoint older than the retention anchor: purged, and the log still verifies', async () => {
      const cp = await checkpoint();
      await addUsers(1); // so retention deletes past the checkpoint's event, not up to it
      app.clock.advance(365 * DAY + 3600_000); // past retention, within the bootstrap token's 366 days
      await addUsers(1);
      expect(await app.services.audit.purge()).toBeGreaterThan(0);
      const result = await verifyAgainst(cp);
      expect(result).toMatchObject({ status: 'ok', checkpoint: { seq: cp.seq, status: 'purged' } });
      const fresh = await checkpoint();
      expect(await verifyAgainst(fresh)).toMatchObject({ status: 'ok', checkpoint: { status: 'ok' } });
    });
  });
});
