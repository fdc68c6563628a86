import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/lib/secret-token.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const IDLE = 5000;
const SLOWLORIS = 200;
const SLOW_BODIES = 100;
/** "Keeps answering": each probe within this, on a new connection, while every slow socket is held open. */
const ANSWER_WITHIN_MS = 3000;

/** The soft limit on open files of this process, which the server process inherits. */
function openFilesLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === 'unlimited' ? Infinity : Number(soft);
}

/** A GET on a connection of its own (no keep-alive pool), as a load balancer's health check makes it. */
function probe(url: string, token?: string): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  return new Promise((res, rej) => {
    const req = get(
      url,
      {
        agent: false,
        timeout: ANSWER_WITHIN_MS * 3,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      },
      (r) => {
        r.resume();
        r.on('end', () => res({ status: r.statusCode ?? 0, ms: Date.now() - started }));
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`no answer from ${url} within ${ANSWER_WITHIN_MS * 3} ms`)),
    );
    req.on('error', rej);
  });
}

/**
 * Slow clients cannot starve the health check: while 5,000 idle connections, 200 slowloris connections
 * (headers one byte at a time) and 100 slow bodies (one byte at a time) are held open, `GET /healthz` and
 * an authenticated API read keep answering, each on a new connection, within a few seconds.
 */
describe('slow clients and idle connections', () => {
  let server: ServerProcess;
  const admin = generateToken('gth');
  const sockets: Socket[] = [];
  let drip: NodeJS.Timeout | undefined;

  const open = (port: number, host: string) =>
    new Promise<Socket>((res, rej) => {
      const s = connect(port, host);
      s.once('connect', () => {
        s.removeListener('error', rej);
        s.on('error', () => undefined); // the server may cut a slow client off; that is allowed
        sockets.push(s);
        res(s);
      });
      s.once('error', rej);
    });

  beforeAll(async () => {
    server = await startServer({ GATEHOUSE_BOOTSTRAP_TOKEN: admin });
  });
  afterAll(async () => {
    clearInterval(drip);
    for (const s of sockets) s.destroy();
    await server?.stop();
  });

  it('GET /healthz keeps answering under 5,000 idle connections, slowloris and slow bodies', async () => {
    expect(
      openFilesLimit(),
      'raise `ulimit -n` to at least 8192 for this test (client and server each hold 5,300 sockets)',
    ).toBeGreaterThanOrEqual(IDLE + 1500);
    const { hostname, port } = new URL(server.url);
    const p = Number(port);

    for (let i = 0; i < IDLE; i += 250)
      await Promise.all(Array.from({ length: Math.min(250, IDLE - i) }, () => open(p, hostname)));
    const loris = await Promise.all(Array.from({ length: SLOWLORIS }, () => open(p, hostname)));
    for (const s of loris) s.write(`GET /healthz HTTP/1.1\r\nHost: ${hostname}\r\nX-Slow: `);
    const bodies = await Promise.all(Array.from({ length: SLOW_BODIES }, () => open(p, hostname)));
    for (const s of bodies) {
      s.write(
        `POST /api/users HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${admin}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"username":"`,
      );
    }
    // One byte per slow socket every 500 ms: never idle long enough for an idle timeout, never finished.
    drip = setInterval(() => {
      for (const s of [...loris, ...bodies]) if (!s.destroyed) s.write('a');
    }, 500);
    expect(sockets.length).toBe(IDLE + SLOWLORIS + SLOW_BODIES);

    const answers: { status: number; ms: number }[] = [];
    for (let i = 0; i < 20; i++) {
      answers.push(await probe(`${server.url}/healthz`));
      if (i % 4 === 0) answers.push(await probe(`${server.url}/api/me`, admin));
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const x of answers) {
      expect(x.status).toBe(200);
      expect(x.ms).toBeLessThan(ANSWER_WITHIN_MS);
    }
    // The probes ran while the slow clients were still attached, not after the server had shed them.
    expect(sockets.filter((s) => !s.destroyed).length).toBeGreaterThan(IDLE);
    expect(server.child.exitCode).toBeNull();
  }, 120_000);
});
