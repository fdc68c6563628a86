import { afterAll, beforeAll, expect, it } from 'vitest';
import { expectProblem, makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const DAY = 86_400_000;

/**
 * `webhooks.retention_days`: the retention job deletes finished deliveries (with their attempts) and sent
 * events older than that, and nothing still owed to a receiver.
 */
forEachDialect((database, dialect) => {
  let app: TestApp;
  let rx: Receiver;
  const patchConfig = (webhooks: object) =>
    app.request({
      method: 'PATCH',
      url: '/api/config',
      payload: JSON.stringify({ webhooks }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
  const hook = async (path: string, extra: object = {}) => {
    const res = await app.request({
      method: 'POST',
      url: '/api/webhooks',
      payload: { url: rx.url(path), events: ['user.create'], ...extra },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().id as string;
  };
  const deliveries = async (id: string) =>
    (await app.request({ method: 'GET', url: `/api/webhooks/${id}/deliveries` })).json().data as {
      event_id: string;
      status: string;
    }[];
  const newUser = async () =>
    expect((await app.request({ method: 'POST', url: '/api/users', payload: makeUser() })).statusCode).toBe(
      201,
    );

  beforeAll(async () => {
    app = await startTestApp(database().url);
    rx = await startReceiver();
    expect((await patchConfig({ allow_private_targets: true })).statusCode).toBe(200);
  });
  afterAll(async () => {
    await app?.close();
    await rx?.close();
  });

  it('rejects a retention that is not a whole number of days from 1 to 36,500, changing nothing', async () => {
    for (const bad of [0, -1, 1.5, 36_501, '30'])
      expectProblem(await patchConfig({ retention_days: bad }), 400, 'validation_failed');
    expect((await app.request({ method: 'GET', url: '/api/config' })).json().webhooks.retention_days).toBe(
      30,
    );
  });

  it('deletes finished deliveries, their attempts and sent events past retention; keeps what is owed and what is recent', async () => {
    expect((await patchConfig({ retention_days: 2 })).statusCode).toBe(200);
    rx.behave('/fails', { status: 500 });
    rx.behave('/later', { status: 500 });
    await app.worker.runOnce(); // the events from before (the admin's creation) go out to no endpoint
    app.clock.advance(1);
    const ok = await hook('/ok');
    const fails = await hook('/fails', { retry_schedule_s: [0] }); // one attempt, then failed for good
    const later = await hook('/later', { retry_schedule_s: [0, 7 * 86_400] }); // pending a week after its first attempt
    await newUser();
    await app.worker.runOnce();
    const old = await Promise.all([ok, fails, later].map(deliveries));
    expect(old.map((d) => d.map((x) => x.status))).toEqual([['succeeded'], ['failed'], ['pending']]);
    const oldEvent = old[0]![0]!.event_id;
    const since = new Date(app.clock.now() - 1000).toISOString();

    app.clock.advance(3 * DAY);
    await newUser();
    await app.worker.runOnce();
    const db = app.database.db;
    const attemptsOf = async (id: string) =>
      Number(
        (
          await db
            .selectFrom('delivery_attempts')
            .innerJoin('deliveries', 'deliveries.id', 'delivery_attempts.delivery_id')
            .select((e) => e.fn.countAll().as('n'))
            .where('deliveries.webhook_id', '=', id)
            .executeTakeFirstOrThrow()
        ).n,
      );
    expect(await attemptsOf(ok)).toBe(2);

    const purged = await app.services.webhooks.purge();
    expect(purged.deliveries).toBe(2); // the old succeeded and the old failed one
    expect(purged.events).toBeGreaterThanOrEqual(1);
    expect((await deliveries(ok)).map((d) => d.event_id)).not.toContain(oldEvent);
    expect(await deliveries(ok)).toHaveLength(1);
    expect(await deliveries(fails)).toHaveLength(1);
    expect((await deliveries(later)).map((d) => [d.event_id, d.status])).toContainEqual([
      oldEvent,
      'pending',
    ]);
    expect(await attemptsOf(ok)).toBe(1);
    expect(
      await db.selectFrom('outbox').select('id').where('id', '=', oldEvent).executeTakeFirst(),
    ).toBeUndefined();

    // Recover reaches back as far as events are kept.
    const recovered = await app.request({
      method: 'POST',
      url: `/api/webhooks/${ok}/recover`,
      payload: { since },
    });
    expect(recovered.json()).toEqual({ requeued: 1 });
    expect(await app.services.webhooks.purge()).toEqual({ deliveries: 0, events: 0 });
  });

  it('keeps a finished delivery that is requeued while the purge runs', async () => {
    expect((await patchConfig({ retention_days: 2 })).statusCode).toBe(200);
    rx.behave('/gone', { status: 500 });
    const gone = await hook('/gone', { retry_schedule_s: [0] });
    await newUser();
    await app.worker.runOnce();
    const [failed] = await deliveries(gone);
    expect(failed?.status).toBe('failed');
    app.clock.advance(3 * DAY);
    const db = app.database.db;
    // What `recover` does to a finished delivery: back to pending, in a transaction of its own.
    const requeue = (q: typeof db) =>
      q
        .updateTable('deliveries')
        .set({ status: 'pending', next_attempt_at: app.clock.now(), updated_at: app.clock.now() })
        .where('webhook_id', '=', gone)
        .execute();
    if (dialect === 'postgres') {
      // The purge runs while the requeue holds the row, uncommitted: it must neither delete the row nor wait for it.
      await db.transaction().execute(async (trx) => {
        await requeue(trx);
        await Promise.race([
          app.services.webhooks.purge(),
          new Promise<never>((_, reject) =>
            setTimeout(
              () => reject(new Error('the purge waited for a row another transaction holds')),
              10_000,
            ).unref(),
          ),
        ]);
      });
    } else {
      await requeue(db); // one writer: the purge runs before or after the requeue, never beside it
      await app.services.webhooks.purge();
    }
    expect((await deliveries(gone)).map((d) => d.status)).toEqual(['pending']);
    expect((await app.services.webhooks.purge()).deliveries).toBe(0);
  });
});
