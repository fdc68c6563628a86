import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/lib/secret-token.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

type Line = { seq: number; hash: string; prev_hash: string };

/**
 * An audit stream across restarts of a real `gatehouse serve` (SQLite): SIGKILL in a burst of writes, then a
 * restart on the same data, leaves no gap (a batch answered but not yet recorded may come again: at least
 * once); a SIGTERM restart sends nothing twice. The receiver's lines are the oracle.
 */
describe('audit stream across restarts (SQLite)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-stream-'));
  const admin = generateToken('gth');
  const env = { GATEHOUSE_BOOTSTRAP_TOKEN: admin };
  let server: ServerProcess | undefined;
  let rx: Receiver | undefined;
  afterAll(async () => {
    await server?.stop();
    await rx?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const call = async (path: string, method = 'GET', body?: unknown) =>
    fetch(`${server!.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const lines = (): Line[] =>
    rx!.at('/stream').flatMap((b) =>
      b.body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Line),
    );
  /** Creates a user and answers the seq of its `user.create` event. */
  const marker = async (): Promise<number> => {
    const user = (await (await call('/api/users', 'POST', { username: `m${Date.now()}` })).json()) as {
      id: string;
    };
    const page = (await (await call(`/api/audit?action=user.create&target=${user.id}`)).json()) as {
      data: { seq: number }[];
    };
    return page.data[0]!.seq;
  };
  const waitFor = async (seq: number) => {
    const deadline = Date.now() + 60_000; // a killed relay's lease runs out within 30 s
    while (Date.now() < deadline && !lines().some((l) => l.seq === seq))
      await new Promise((r) => setTimeout(r, 100));
    expect(lines().some((l) => l.seq === seq)).toBe(true);
  };

  it('SIGKILL leaves no gap; a SIGTERM restart sends nothing twice', async () => {
    rx = await startReceiver();
    server = await startServer(env, 60_000, { dataDir });
    const patched = await call('/api/config', 'PATCH', {
      webhooks: { allow_private_targets: true },
      rate_limits: { default: { max: 100000, window_s: 60 } },
    });
    expect(patched.status).toBe(200);
    const created = await call('/api/audit/streams', 'POST', {
      name: 'siem',
      url: rx.url('/stream'),
      from_seq: 1,
    });
    expect(created.status).toBe(201);

    let answered = 0;
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop && i < 300; i++) {
        try {
          const res = await call('/api/users', 'POST', { username: `burst-${w}-${i}` });
          if (res.status === 201) answered += 1;
        } catch {
          return; // the connection died with the server
        }
      }
    };
    const writers = Array.from({ length: 4 }, (_, w) => writer(w));
    while (answered < 100) await new Promise((r) => setTimeout(r, 10));
    process.kill(server.pid, 'SIGKILL');
    stop = true;
    await Promise.all(writers);
    expect(await server.exited).toBeNull();

    server = await startServer(env, 60_000, { dataDir });
    const first = await marker();
    await waitFor(first);
    const seen = new Map<number, Line>();
    for (const l of lines()) {
      const again = seen.get(l.seq);
      if (again) expect(again.hash).toBe(l.hash); // a resend is the same event
      seen.set(l.seq, l);
    }
    // Every event from seq 1 to the marker, chained.
    for (let seq = 1; seq <= first; seq++) {
      expect(seen.has(seq), `seq ${seq}`).toBe(true);
      if (seq > 1) expect(seen.get(seq)!.prev_hash).toBe(seen.get(seq - 1)!.hash);
    }

    const before = lines().length;
    expect(await server.stop()).toBe(0);
    server = await startServer(env, 60_000, { dataDir });
    const second = await marker();
    await waitFor(second);
    const after = lines().slice(before);
    const seqs = after.map((l) => l.seq).filter((s) => s > first);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(Math.max(...seqs)).toBeGreaterThanOrEqual(second);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  }, 240_000);
});
