import { afterAll, beforeAll, expect, it } from 'vitest';
import { counts, expectProblem, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/**
 * `POST /api/webhooks/{id}/recover` over big windows: it pages through the window (ties of one millisecond
 * across page boundaries included) and queues each subscribed event once; a window of more than 100,000
 * subscribed events is refused before anything is written.
 */
forEachDialect((database) => {
  let app: TestApp;
  let rx: Receiver;
  let hook: string;
  let seq = 0;
  const db = () => app.database.db;
  /** `count` outbox events of `type`, all stamped `at` and already fanned out, written directly. */
  async function seedOutbox(type: string, count: number, at: number) {
    for (let i = 0; i < count; i += 1000) {
      const rows = Array.from({ length: Math.min(1000, count - i) }, () => ({
        id: `evt_recover${String(seq++).padStart(9, '0')}`,
        type,
        data: JSON.stringify({ id: `role_${seq}` }),
        created_at: at,
        dispatched_at: at,
      }));
      await db().insertInto('outbox').values(rows).execute();
    }
  }
  const deliveriesOf = async (id: string) =>
    db().selectFrom('deliveries').select(['event_id', 'status']).where('webhook_id', '=', id).execute();
  const recover = (body: object) =>
    app.request({ method: 'POST', url: `/api/webhooks/${hook}/recover`, payload: body });

  beforeAll(async () => {
    app = await startTestApp(database().url);
    rx = await startReceiver();
    await app.request({
      method: 'PATCH',
      url: '/api/config',
      payload: JSON.stringify({ webhooks: { allow_private_targets: true } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    const res = await app.request({
      method: 'POST',
      url: '/api/webhooks',
      payload: { url: rx.url('/r'), events: ['role.create'] },
    });
    expect(res.statusCode, res.body).toBe(201);
    hook = res.json().id;
  });
  afterAll(async () => {
    await app?.close();
    await rx?.close();
  });

  it('queues every subscribed event of the window once, across pages, and again (not twice) on a second call', async () => {
    app.clock.advance(10);
    const at = app.clock.now();
    await seedOutbox('role.create', 2_345, at); // one millisecond: the pages split ties by id
    await seedOutbox('user.create', 30, at); // not subscribed
    app.clock.advance(10);
    const since = new Date(at).toISOString();
    const until = new Date(at + 1).toISOString();
    const first = await recover({ since, until });
    expect(first.statusCode, first.body).toBe(202);
    expect(first.json()).toEqual({ requeued: 2_345 });
    const rows = await deliveriesOf(hook);
    expect(rows).toHaveLength(2_345);
    expect(new Set(rows.map((r) => r.event_id)).size).toBe(2_345);
    expect(rows.every((r) => r.status === 'pending')).toBe(true);
    expect((await recover({ since, until })).json()).toEqual({ requeued: 2_345 });
    expect(await deliveriesOf(hook)).toHaveLength(2_345);
  });

  it('refuses a window bound that is no instant (a leap second) with a 400, and queues nothing', async () => {
    const before = (await deliveriesOf(hook)).length;
    for (const body of [
      { since: '2016-12-31T23:59:60Z' },
      { since: '2016-12-31T00:00:00Z', until: '2016-12-31T23:59:60Z' },
    ] as { since: string; until?: string }[]) {
      const problem = expectProblem(await recover(body), 400, 'validation_failed');
      expect(problem.errors?.[0]?.pointer).toBe(body.until ? '/until' : '/since');
    }
    expect((await deliveriesOf(hook)).length).toBe(before);
  });

  it('refuses a window of more than 100,000 subscribed events with a 400 naming the count, and queues nothing', async () => {
    app.clock.advance(10);
    const at = app.clock.now();
    await seedOutbox('role.create', 100_001, at);
    const before = { ...(await counts(app)), deliveries: (await deliveriesOf(hook)).length };
    const res = await recover({ since: new Date(at).toISOString(), until: new Date(at + 1).toISOString() });
    const problem = expectProblem(res, 400, 'validation_failed');
    expect(problem.errors).toEqual([
      { in: 'body', pointer: '/until', message: expect.stringContaining('100,001 events') },
    ]);
    // Nothing queued; the refused attempt itself is in the audit log (outcome error), as every failed change is.
    expect({ ...(await counts(app)), deliveries: (await deliveriesOf(hook)).length }).toEqual({
      ...before,
      audit: before.audit + 1,
    });
    const audited = await db()
      .selectFrom('audit_events')
      .select(['action', 'outcome', 'target_id'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    expect(audited).toEqual({ action: 'webhook.recover', outcome: 'error', target_id: hook });
    // The same events in a window the endpoint does not subscribe to are no reason to refuse.
    const other = await app.request({
      method: 'POST',
      url: '/api/webhooks',
      payload: { url: rx.url('/u'), events: ['user.*'] },
    });
    const quiet = await app.request({
      method: 'POST',
      url: `/api/webhooks/${other.json().id}/recover`,
      payload: { since: new Date(at).toISOString(), until: new Date(at + 1).toISOString() },
    });
    expect(quiet.json()).toEqual({ requeued: 0 });
  }, 120_000);
});
