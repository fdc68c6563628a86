import { Webhook as Verifier } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { counts, makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { createDb } from '../../src/db/create-db.js';
import { forEachDialect } from '../helpers/databases.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

type Delivery = {
  id: string;
  event_id: string;
  event_type: string;
  status: string;
  attempts: {
    status_code: number | null;
    error: string | null;
    response_excerpt: string | null;
    latency_ms: number;
  }[];
  next_attempt_at: string | null;
};

forEachDialect((database, dialect) => {
  let app: TestApp;
  let rx: Receiver;
  let n = 0;
  beforeAll(async () => {
    app = await startTestApp(database().url);
    rx = await startReceiver();
    await app.request({
      method: 'PATCH',
      url: '/api/config',
      payload: JSON.stringify({ webhooks: { allow_private_targets: true } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
  });
  afterAll(async () => {
    await app?.close();
    await rx?.close();
  });

  /** An endpoint on its own receiver path; returns its id, secret and path. */
  async function endpoint(extra: object = {}, events = ['user.*']) {
    const path = `/hook${n++}`;
    // Earlier events are dispatched first; the clock moves so this endpoint's creation is strictly after them.
    await app.worker.runOnce();
    app.clock.advance(1);
    const res = await app.request({
      method: 'POST',
      url: '/api/webhooks',
      payload: { url: rx.url(path), events, ...extra },
    });
    expect(res.statusCode, res.body).toBe(201);
    const { id, secret } = res.json();
    await app.worker.runOnce();
    app.clock.advance(1);
    return { id: id as string, secret: secret as string, path };
  }
  const deliveries = async (id: string): Promise<Delivery[]> =>
    (await app.request({ method: 'GET', url: `/api/webhooks/${id}/deliveries` })).json().data;
  const newUser = async () =>
    (await app.request({ method: 'POST', url: '/api/users', payload: makeUser() })).json();

  beforeEach(() => {
    rx.received.length = 0;
  });

  describe('succeeds', () => {
    it('delivers each committed event, signed so the standardwebhooks package verifies it', async () => {
      const hook = await endpoint();
      const user = await newUser();
      await app.worker.runOnce();
      const [got] = rx.at(hook.path);
      expect(got).toBeDefined();
      const payload = new Verifier(hook.secret).verify(got!.body, got!.headers as Record<string, string>) as {
        type: string;
        data: unknown;
        timestamp: string;
      };
      expect(payload).toMatchObject({ type: 'user.create', data: user });
      expect(got!.headers['webhook-id']).toMatch(/^evt_/);
      expect(got!.headers['content-type']).toBe('application/json');
      const audit = await app.database.db
        .selectFrom('audit_events')
        .select('id')
        .where('target_id', '=', user.id)
        .where('action', '=', 'user.create')
        .executeTakeFirstOrThrow();
      expect(got!.headers['webhook-id']).toBe(audit.id);
      const [d] = await deliveries(hook.id);
      expect(d).toMatchObject({
        status: 'succeeded',
        event_type: 'user.create',
        attempts: [{ status_code: 204, error: null }],
      });
    });

    it('a tampered body or a stale timestamp fails verification', async () => {
      const hook = await endpoint();
      await newUser();
      await app.worker.runOnce();
      const [got] = rx.at(hook.path);
      const verifier = new Verifier(hook.secret);
      expect(() =>
        verifier.verify(
          got!.body.replace('user.create', 'user.delete'),
          got!.headers as Record<string, string>,
        ),
      ).toThrow();
      const old = {
        ...(got!.headers as Record<string, string>),
        'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 3600),
      };
      expect(() => verifier.verify(got!.body, old)).toThrow();
      expect(() =>
        new Verifier('whsec_' + Buffer.from('wrong-secret-wrong-secret!').toString('base64')).verify(
          got!.body,
          got!.headers as Record<string, string>,
        ),
      ).toThrow();
    });

    it('sends only subscribed types', async () => {
      const roles = await endpoint({}, ['role.*']);
      await newUser();
      await app.worker.runOnce();
      expect(rx.at(roles.path)).toHaveLength(0);
      await app.request({ method: 'POST', url: '/api/roles', payload: { name: `r${n}`, permissions: [] } });
      await app.worker.runOnce();
      expect(rx.at(roles.path).map((r) => JSON.parse(r.body).type)).toEqual(['role.create']);
    });

    it('after a secret rotation, deliveries carry both signatures for 24 hours', async () => {
      const hook = await endpoint();
      const rotated = (
        await app.request({ method: 'POST', url: `/api/webhooks/${hook.id}/rotate-secret` })
      ).json();
      await newUser();
      await app.worker.runOnce();
      const got = rx.at(hook.path).at(-1)!;
      expect((got.headers['webhook-signature'] as string).split(' ')).toHaveLength(2);
      expect(() =>
        new Verifier(hook.secret).verify(got.body, got.headers as Record<string, string>),
      ).not.toThrow();
      expect(() =>
        new Verifier(rotated.secret).verify(got.body, got.headers as Record<string, string>),
      ).not.toThrow();
      app.clock.advance(24 * 3600 * 1000 + 1000);
      await newUser();
      await app.worker.runOnce();
      const later = rx.at(hook.path).at(-1)!;
      expect((later.headers['webhook-signature'] as string).split(' ')).toHaveLength(1);
      expect(() =>
        new Verifier(hook.secret).verify(later.body, later.headers as Record<string, string>),
      ).toThrow();
    });

    it('test, manual retry and recover send again with the same webhook-id', async () => {
      const hook = await endpoint();
      const queued = (await app.request({ method: 'POST', url: `/api/webhooks/${hook.id}/test` })).json();
      await app.worker.runOnce();
      expect(JSON.parse(rx.at(hook.path).at(-1)!.body)).toMatchObject({
        type: 'webhook.test',
        data: { webhook_id: hook.id },
      });
      expect(
        (
          await app.request({
            method: 'POST',
            url: `/api/webhooks/${hook.id}/deliveries/${queued.delivery_id}/retry`,
          })
        ).statusCode,
      ).toBe(204);
      await app.worker.runOnce();
      const [first, second] = rx.at(hook.path);
      expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);

      app.clock.advance(1);
      const since = new Date(app.clock.now()).toISOString();
      await newUser();
      await newUser();
      await app.worker.runOnce();
      const before = rx.at(hook.path).length;
      const res = await app.request({
        method: 'POST',
        url: `/api/webhooks/${hook.id}/recover`,
        payload: { since },
      });
      expect(res.json()).toEqual({ requeued: 2 });
      await app.worker.runOnce();
      const again = rx.at(hook.path).slice(before);
      expect(again).toHaveLength(2);
      expect(again.map((r) => r.headers['webhook-id']).sort()).toEqual(
        rx
          .at(hook.path)
          .slice(before - 2, before)
          .map((r) => r.headers['webhook-id'])
          .sort(),
      );
    });
  });

  describe('rejects (receiver faults)', () => {
    it('500s retry on the schedule, every attempt logged, until the schedule is spent', async () => {
      const hook = await endpoint({ retry_schedule_s: [0, 10, 20] });
      rx.behave(hook.path, { status: 500, body: 'boom '.repeat(400) });
      await newUser();
      await app.worker.runOnce();
      let [d] = await deliveries(hook.id);
      expect(d).toMatchObject({ status: 'pending', attempts: [{ status_code: 500, error: 'HTTP 500' }] });
      expect(d!.attempts[0]!.response_excerpt!.length).toBe(1024);
      const due = Date.parse(d!.next_attempt_at!) - app.clock.now();
      expect(due).toBeGreaterThanOrEqual(9000);
      expect(due).toBeLessThanOrEqual(11_000);
      await app.worker.runOnce(); // not due yet
      expect(rx.at(hook.path)).toHaveLength(1);
      app.clock.advance(11_000);
      await app.worker.runOnce();
      app.clock.advance(22_000);
      await app.worker.runOnce();
      app.clock.advance(60_000);
      await app.worker.runOnce();
      [d] = await deliveries(hook.id);
      expect(rx.at(hook.path)).toHaveLength(3);
      expect(d).toMatchObject({ status: 'failed', next_attempt_at: null });
      expect(d!.attempts.map((a) => a.status_code)).toEqual([500, 500, 500]);
    });

    it('a receiver that is down, or hangs past the timeout, is a failed attempt with its reason', async () => {
      const down = (
        await app.request({
          method: 'POST',
          url: '/api/webhooks',
          payload: { url: 'http://127.0.0.1:1/x', events: ['user.*'], retry_schedule_s: [0] },
        })
      ).json();
      const slow = await endpoint({ timeout_s: 1, retry_schedule_s: [0] });
      rx.behave(slow.path, { status: 200, delayMs: 3000 });
      await app.worker.runOnce();
      await newUser();
      await app.worker.runOnce();
      const [dd] = await deliveries(down.id);
      expect(dd!.status).toBe('failed');
      expect(dd!.attempts.at(-1)!.error).toMatch(/ECONNREFUSED|connect/i);
      const [sd] = await deliveries(slow.id);
      expect(sd!.status).toBe('failed');
      expect(sd!.attempts[0]!.error).toMatch(/timeout/i);
    });

    it('a 3xx is a failure and is never followed', async () => {
      const hook = await endpoint({ retry_schedule_s: [0] });
      rx.behave(hook.path, { status: 302, headers: { location: rx.url('/elsewhere') } });
      await newUser();
      await app.worker.runOnce();
      expect(rx.at('/elsewhere')).toHaveLength(0);
      const [d] = await deliveries(hook.id);
      expect(d).toMatchObject({ status: 'failed', attempts: [{ status_code: 302 }] });
    });

    it('410 disables the endpoint, by system, with a webhook.disable event and audit row', async () => {
      const hook = await endpoint();
      rx.behave(hook.path, { status: 410 });
      const before = await counts(app);
      await newUser();
      await app.worker.runOnce();
      const read = (await app.request({ method: 'GET', url: `/api/webhooks/${hook.id}` })).json();
      expect(read).toMatchObject({ enabled: false, disabled_reason: expect.stringMatching(/410/) });
      const row = await app.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('action', '=', 'webhook.disable')
        .where('target_id', '=', hook.id)
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ actor: 'system', outcome: 'success' });
      expect((await counts(app)).outbox - before.outbox).toBe(2); // user.create and webhook.disable
      await newUser();
      await app.worker.runOnce();
      expect(rx.at(hook.path)).toHaveLength(1);
    });

    it('429 and 503 honour Retry-After', async () => {
      const hook = await endpoint({ retry_schedule_s: [0, 1] });
      rx.behave(hook.path, { status: 429, headers: { 'retry-after': '120' } });
      await newUser();
      await app.worker.runOnce();
      const [d] = await deliveries(hook.id);
      expect(Date.parse(d!.next_attempt_at!) - app.clock.now()).toBeGreaterThanOrEqual(119_000);
    });

    it('an endpoint failing past disable_after_days is disabled', async () => {
      const hook = await endpoint({ retry_schedule_s: [0, 86_400, 86_400, 86_400] });
      rx.behave(hook.path, { status: 500 });
      await app.request({
        method: 'PATCH',
        url: '/api/config',
        payload: JSON.stringify({ webhooks: { disable_after_days: 1 } }),
        headers: { 'content-type': 'application/merge-patch+json' },
      });
      await newUser();
      await app.worker.runOnce();
      expect((await app.request({ method: 'GET', url: `/api/webhooks/${hook.id}` })).json().enabled).toBe(
        true,
      );
      app.clock.advance(86_400 * 1000 * 1.2);
      await app.worker.runOnce();
      const read = (await app.request({ method: 'GET', url: `/api/webhooks/${hook.id}` })).json();
      expect(read).toMatchObject({ enabled: false, disabled_reason: 'failing for 1 days' });
      await app.request({
        method: 'PATCH',
        url: '/api/config',
        payload: JSON.stringify({ webhooks: { disable_after_days: null } }),
        headers: { 'content-type': 'application/merge-patch+json' },
      });
    });

    it('one hanging endpoint does not delay the others', async () => {
      const slow = await endpoint({ timeout_s: 5 });
      const fast = await endpoint();
      rx.behave(slow.path, { status: 200, delayMs: 4000 });
      app.worker.start(50);
      try {
        const started = Date.now();
        await newUser();
        while (rx.at(fast.path).length === 0 && Date.now() - started < 3000)
          await new Promise((r) => setTimeout(r, 20));
        expect(rx.at(fast.path)).toHaveLength(1);
        expect(Date.now() - started).toBeLessThan(2000);
      } finally {
        await app.worker.stop(6000);
      }
    });

    it('many hanging endpoints with backlogs do not hold up a healthy one', async () => {
      // 24 endpoints that hang past their timeout, each with a backlog of 64 events re-queued by a recover of its
      // own (so each one's rows come due together). A worker holds at most 1,024 deliveries: when a claim leased
      // 64 of any endpoint, these 24 filled the hold and nothing else was claimed until their sends timed out.
      // All on one receiver (one origin), as endpoints of one host are: 192 hanging sends must not take every
      // connection to it either. Role events: the earlier tests' endpoints (one of them slow) take user events.
      const healthy = '/healthy-behind-backlogs';
      const newRole = async () =>
        expect(
          (
            await app.request({
              method: 'POST',
              url: '/api/roles',
              payload: { name: `backlog-${n++}-${dialect}`, permissions: [] },
            })
          ).statusCode,
        ).toBe(201);
      const dead: string[] = [];
      try {
        app.clock.advance(1);
        const since = new Date(app.clock.now()).toISOString();
        for (let i = 0; i < 64; i++) await newRole();
        await app.worker.runOnce();
        for (let i = 0; i < 24; i++) {
          const hook = await endpoint({ timeout_s: 5 }, ['role.create']);
          rx.behave(hook.path, { status: 204, delayMs: 30_000 });
          dead.push(hook.id);
        }
        app.clock.advance(1);
        const created = await app.request({
          method: 'POST',
          url: '/api/webhooks',
          payload: { url: rx.url(healthy), events: ['role.create'] },
        });
        expect(created.statusCode).toBe(201);
        for (const id of dead) {
          app.clock.advance(1);
          const res = await app.request({
            method: 'POST',
            url: `/api/webhooks/${id}/recover`,
            payload: { since },
          });
          expect(res.json()).toEqual({ requeued: 64 });
        }
        app.clock.advance(1);
        await newRole(); // due after all 1,536 re-queued deliveries
        app.worker.start(50);
        const started = Date.now();
        // Before the hanging sends' 5 s timeout frees anything.
        while (rx.at(healthy).length === 0 && Date.now() - started < 4500)
          await new Promise((r) => setTimeout(r, 20));
        expect(rx.at(healthy)).toHaveLength(1);
      } finally {
        await app.worker.stop(6000);
        // Later tests' users must not go to these endpoints.
        for (const id of dead)
          expect((await app.request({ method: 'DELETE', url: `/api/webhooks/${id}` })).statusCode).toBe(204);
      }
    }, 30_000);

    it('a commit wakes the worker: the delivery does not wait for the poll', async () => {
      const hook = await endpoint();
      app.worker.start(60_000);
      try {
        await new Promise((r) => setTimeout(r, 300)); // the first round has run; the next poll is a minute away
        const started = Date.now();
        await newUser();
        while (rx.at(hook.path).length === 0 && Date.now() - started < 10_000)
          await new Promise((r) => setTimeout(r, 20));
        expect(rx.at(hook.path)).toHaveLength(1);
      } finally {
        await app.worker.stop(6000);
      }
    });

    // A worker in another process (`gatehouse worker`, another instance) hears of commits through the database.
    if (dialect === 'postgres') {
      it('a commit notifies listeners in other processes (LISTEN/NOTIFY), so their workers need not wait for the poll', async () => {
        const other = createDb(database().url);
        let calls = 0;
        const off = other.onOutboxCommit(() => calls++);
        const until = async (done: () => boolean) => {
          const started = Date.now();
          while (!done() && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 20));
        };
        try {
          await until(() => calls > 0); // once when LISTEN is in place
          const before = calls;
          expect(before).toBeGreaterThan(0);
          await newUser();
          await until(() => calls > before);
          expect(calls).toBeGreaterThan(before);
        } finally {
          off();
          await other.close();
        }
      });
    }

    /**
     * `count` events to one endpoint answering after `delayMs`, sent by the running worker; the arrival times,
     * once all arrived (or 20 s passed). Each answer takes `delayMs`, so arrivals closer than that overlapped.
     */
    async function arrivalsAt(
      count: number,
      delayMs: number,
      instantFirst = 0,
    ): Promise<{ at: number[]; mostOpen: number }> {
      const hook = await endpoint({}, ['user.create']);
      rx.behave(hook.path, { status: 204, delayMs, instantFirst });
      for (let i = 0; i < count; i++) await newUser();
      app.worker.start(50);
      try {
        const started = Date.now();
        while (rx.at(hook.path).length < count && Date.now() - started < 20_000)
          await new Promise((r) => setTimeout(r, 20));
        const at = rx
          .at(hook.path)
          .map((r) => r.at)
          .sort((a, b) => a - b);
        return { at, mostOpen: rx.mostOpen(hook.path) };
      } finally {
        await app.worker.stop(6000);
      }
    }
    it('sends at most 8 deliveries of one endpoint at once, and all of them in the end', async () => {
      const { at, mostOpen } = await arrivalsAt(20, 400);
      expect(at).toHaveLength(20);
      // Counted at the receiver: requests that arrived and were not answered yet, at their most.
      expect(mostOpen).toBeGreaterThan(1);
      expect(mostOpen).toBeLessThanOrEqual(8);
    });

    it('sends up to 16 deliveries of a fast endpoint at once, never more, and all of them in the end', async () => {
      // Last in this block: its events also go to the endpoints earlier tests left behind. The first 16 answers
      // come at once, so the endpoint is fast (under 100 ms on average, however loaded the machine is); the rest
      // are held 60 ms each, so the receiver sees how many the lane then sends at once: up to 16, never more.
      const { at, mostOpen } = await arrivalsAt(48, 60, 16);
      expect(at).toHaveLength(48);
      // More than 4 at once shows the lane runs requests in parallel; how many more depends on how loaded the
      // machine is (8 was seen while other suites ran beside this one), so the bound above is the claim.
      expect(mostOpen).toBeGreaterThan(4);
      expect(mostOpen).toBeLessThanOrEqual(16);
    });
  });
});
