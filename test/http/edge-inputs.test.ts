import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/lib/pagination.js';
import { counts, expectProblem, makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

/** Issue #16, findings 9, 10, 14 and 16: bodies, integers, framework errors and credentials at the edge. */

const PASSWORD = 'a sign-in password';

/** `{"a":{"a":…1…}}`, `depth` objects deep. */
const nestedObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
/** `[[[…]]]`, `depth` arrays deep. */
const nestedArray = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

type RawAnswer = { status: number; headers: Record<string, string>; body: string };

/** Sends bytes as they are to a listening server (headers `app.inject` cannot send), reads to the close. */
function rawRequest(port: number, text: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = raw.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    socket.write(text);
  });
}

/** A problem+json answer from a real socket, with the request id and the security headers. */
function expectRawProblem(res: RawAnswer, status: number, code: string) {
  expect(res.status, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(res.body) as { code: string; status: number; request_id: string; type: string };
  expect(body).toMatchObject({
    code,
    status,
    type: `urn:gatehouse:problem:${code}`,
    request_id: expect.any(String),
  });
  expect(res.headers['x-request-id']).toBe(body.request_id);
  expectSecurityHeaders(res.headers);
  return body;
}

/** A header sent twice: light-my-request takes an array (as Node reports it), though its types say string. */
function twice(name: string, first: string, second: string): Record<string, string> {
  return { [name]: [first, second] } as unknown as Record<string, string>;
}

function expectSecurityHeaders(headers: Record<string, unknown>) {
  expect(headers['content-security-policy']).toMatch(/default-src 'self'/);
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['x-frame-options']).toBe('SAMEORIGIN');
}

forEachDialect((database) => {
  let app: TestApp;
  let port: number;
  let username: string;
  const lines: string[] = [];

  beforeAll(async () => {
    app = await startTestApp(database().url, { logLines: lines });
    const address = await app.app.listen({ port: 0, host: '127.0.0.1' });
    port = Number(new URL(address).port);
    const user = makeUser({ password: PASSWORD });
    username = user.username as string;
    expect((await app.request({ method: 'POST', url: '/api/users', payload: user })).statusCode).toBe(201);
  });
  afterAll(async () => app?.close());

  /** What a refused request must leave as it was: users, audit rows, outbox events and the settings' version. */
  async function state() {
    return { ...(await counts(app)), config: app.services.config.get().version };
  }

  /** Runs `send`, expects the problem, and that nothing changed. */
  async function refused(send: () => Promise<LightMyRequestResponse>, status: number, code: string) {
    const before = await state();
    const res = await send();
    const body = expectProblem(res, status, code);
    expect(res.headers['x-request-id']).toBe(res.json().request_id);
    expect(await state()).toEqual(before);
    return body;
  }

  const json = { 'content-type': 'application/json' };

  describe('succeeds', () => {
    it('signs in with a small body in UTF-8 (any spelling of the charset) and Content-Encoding: identity', async () => {
      for (const contentType of [
        'application/json; charset=utf-8',
        'application/json;charset="UTF-8"',
        'application/json',
      ]) {
        const res = await app.request({
          method: 'POST',
          url: '/api/auth/login',
          token: null,
          payload: JSON.stringify({ username, password: PASSWORD }),
          headers: { 'content-type': contentType, 'content-encoding': 'identity' },
        });
        expect(res.statusCode, res.body).toBe(200);
      }
    });

    it('answers a request without a body whatever its Content-Encoding or charset says (GET, a bodiless DELETE)', async () => {
      const created = await app.request({ method: 'POST', url: '/api/users', payload: makeUser() });
      const id = created.json<{ id: string }>().id;
      const headers = [
        { 'content-encoding': 'gzip' },
        { 'content-encoding': 'br, deflate', 'content-type': 'application/json; charset=latin1' },
      ];
      for (const h of headers) {
        for (const url of ['/api/users?limit=5', `/api/users/${id}`]) {
          const res = await app.request({ method: 'GET', url, headers: h });
          expect(res.statusCode, `${url} ${JSON.stringify(h)}: ${res.body}`).toBe(200);
        }
      }
      const gone = await app.request({ method: 'DELETE', url: `/api/users/${id}`, headers: headers[0] });
      expect(gone.statusCode, gone.body).toBe(204);
    });

    it('parses 64 levels of nesting, and brackets inside strings do not count', async () => {
      // 1 object + 63 arrays: at the limit, so the schema (not the depth check) answers.
      const deep = await app.request({
        method: 'POST',
        url: '/api/users',
        headers: json,
        payload: `{"username":"deep","display_name":${nestedArray(63)}}`,
      });
      expect(expectProblem(deep, 400, 'validation_failed').errors?.[0]?.pointer).toBe('/display_name');
      const brackets = '[{'.repeat(60) + '\\"[' + '}]'.repeat(3);
      const res = await app.request({
        method: 'POST',
        url: '/api/users',
        headers: json,
        payload: `{"username":"brackets","display_name":"${brackets}"}`,
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().display_name).toBe(brackets.replace('\\"', '"'));
    });

    it("takes integers up to the column's range: a valid but absent version is a 404, a tail past the head is empty", async () => {
      expectProblem(
        await app.request({ method: 'GET', url: '/api/config/versions/2147483647' }),
        404,
        'not_found',
      );
      expectProblem(
        await app.request({ method: 'POST', url: '/api/config/rollback', payload: { version: 2147483647 } }),
        404,
        'not_found',
      );
      const tail = await app.request({
        method: 'GET',
        url: `/api/audit?order=asc&after=${Number.MAX_SAFE_INTEGER}`,
      });
      expect(tail.statusCode, tail.body).toBe(200);
      expect(tail.json().data).toEqual([]);
    });

    it('answers a since equal to until with an empty page, and ordinary query strings with a bearer token', async () => {
      const at = '2026-01-01T00:00:00.000Z';
      const res = await app.request({ method: 'GET', url: `/api/audit?since=${at}&until=${at}&limit=5` });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().data).toEqual([]);
      const page = await app.request({ method: 'GET', url: '/api/users?limit=1' });
      expect(page.statusCode, page.body).toBe(200);
    });
  });

  describe('rejects', () => {
    it('a sign-in body over 8 KiB with 413, a 1 MiB nested one included', async () => {
      const big = JSON.stringify({ username, password: 'x'.repeat(9 * 1024) });
      const body = await refused(
        () =>
          app.request({ method: 'POST', url: '/api/auth/login', token: null, headers: json, payload: big }),
        413,
        'payload_too_large',
      );
      expect(body.detail).toContain('8 KiB');
      await refused(
        () =>
          app.request({
            method: 'POST',
            url: '/api/auth/login',
            token: null,
            headers: json,
            payload: nestedArray(512 * 1024),
          }),
        413,
        'payload_too_large',
      );
    });

    it('a JSON body nested deeper than 64 levels with 400, before parsing it (sign-in, config patch, a 1 MiB body)', async () => {
      const login = await refused(
        () =>
          app.request({
            method: 'POST',
            url: '/api/auth/login',
            token: null,
            headers: json,
            payload: nestedArray(2000),
          }),
        400,
        'bad_request',
      );
      expect(login.detail).toContain('64 levels');
      await refused(
        () =>
          app.request({
            method: 'PATCH',
            url: '/api/config',
            headers: { 'content-type': 'application/merge-patch+json' },
            payload: `{"rate_limits":${nestedObject(2000)}}`,
          }),
        400,
        'bad_request',
      );
      await refused(
        () =>
          app.request({ method: 'POST', url: '/api/users', headers: json, payload: nestedArray(500_000) }),
        400,
        'bad_request',
      );
      await refused(
        () =>
          app.request({
            method: 'POST',
            url: '/api/users',
            headers: json,
            payload: `{"username":"deep","display_name":${nestedArray(64)}}`,
          }),
        400,
        'bad_request',
      );
    });

    it("integers beyond the database's range with 400 and a pointer, on both dialects", async () => {
      const cases: [string, () => Promise<LightMyRequestResponse>, string, string][] = [
        [
          'after beyond bigint',
          () => app.request({ method: 'GET', url: '/api/audit?order=asc&after=9223372036854775807' }),
          'query',
          '/after',
        ],
        [
          'after beyond 2^53',
          () =>
            app.request({ method: 'GET', url: `/api/audit?order=asc&after=${Number.MAX_SAFE_INTEGER + 2}` }),
          'query',
          '/after',
        ],
        [
          'a version beyond integer',
          () => app.request({ method: 'GET', url: '/api/config/versions/99999999999999999999' }),
          'params',
          '/v',
        ],
        [
          'a version just beyond integer',
          () => app.request({ method: 'GET', url: '/api/config/versions/2147483648' }),
          'params',
          '/v',
        ],
        [
          'a rollback to 1e20',
          () =>
            app.request({
              method: 'POST',
              url: '/api/config/rollback',
              headers: json,
              payload: '{"version":1e20}',
            }),
          'body',
          '/version',
        ],
        [
          'a token lifetime of 1e20 s',
          () =>
            app.request({
              method: 'POST',
              url: '/api/tokens',
              headers: json,
              payload: '{"name":"t","scopes":["users:read"],"ttl_seconds":1e20}',
            }),
          'body',
          '/ttl_seconds',
        ],
      ];
      for (const [what, send, where, pointer] of cases) {
        const body = await refused(send, 400, 'validation_failed');
        expect(body.errors?.[0], what).toMatchObject({ in: where, pointer });
      }
    });

    it('a forged cursor whose key the column cannot hold with 400', async () => {
      const audit = encodeCursor(['not a seq'], { order: 'desc' });
      expect(
        expectProblem(
          await app.request({ method: 'GET', url: `/api/audit?cursor=${audit}` }),
          400,
          'validation_failed',
        ).errors?.[0]?.pointer,
      ).toBe('/cursor');
      const history = encodeCursor([2 ** 40]);
      await refused(
        () => app.request({ method: 'GET', url: `/api/config/history?cursor=${history}` }),
        400,
        'validation_failed',
      );
    });

    it('since later than until with 400 pointing at since, on the list and the export', async () => {
      for (const path of ['/api/audit', '/api/audit/export']) {
        const body = await refused(
          () =>
            app.request({
              method: 'GET',
              url: `${path}?since=2026-02-01T00:00:00.000Z&until=2026-01-01T00:00:00.000Z`,
            }),
          400,
          'validation_failed',
        );
        expect(body.errors?.[0]).toMatchObject({ in: 'query', pointer: '/since' });
      }
    });

    it('a charset other than UTF-8 and any Content-Encoding but identity with 415', async () => {
      const user = JSON.stringify(makeUser());
      const sends: [Record<string, string>, string | Buffer][] = [
        [{ 'content-type': 'application/json; charset=utf-16' }, Buffer.from(user, 'utf16le')],
        [{ 'content-type': 'application/json; charset=latin1' }, user],
        [{ 'content-type': 'application/merge-patch+json; charset="ISO-8859-1"' }, user],
        [{ 'content-type': 'application/json', 'content-encoding': 'gzip' }, gzipSync(user)],
        [{ 'content-type': 'application/json', 'content-encoding': 'br' }, user],
        [{ 'content-type': 'application/json', 'content-encoding': 'identity, deflate' }, user],
      ];
      for (const [headers, payload] of sends) {
        await refused(
          () => app.request({ method: 'POST', url: '/api/users', headers, payload }),
          415,
          'unsupported_media_type',
        );
      }
    });

    it('a token in the query string with 400, whatever the parameter, the route or the Authorization header', async () => {
      const t = app.adminToken;
      const sends: [string, () => Promise<LightMyRequestResponse>, string][] = [
        [
          'access_token alone',
          () => app.request({ method: 'GET', url: `/api/users?access_token=${t}`, token: null }),
          '/access_token',
        ],
        [
          'with a header too',
          () => app.request({ method: 'POST', url: `/api/users?access_token=${t}`, payload: makeUser() }),
          '/access_token',
        ],
        [
          'a token-shaped value',
          () => app.request({ method: 'GET', url: `/api/me?q=${t}`, token: null }),
          '/q',
        ],
        [
          'on sign-in',
          () =>
            app.request({
              method: 'POST',
              url: `/api/auth/login?access_token=${t}`,
              token: null,
              payload: { username, password: PASSWORD },
            }),
          '/access_token',
        ],
        [
          'any value of access_token',
          () => app.request({ method: 'GET', url: '/api/users?access_token=whatever', token: null }),
          '/access_token',
        ],
        [
          'a token right after _ or -',
          () => app.request({ method: 'GET', url: `/api/me?q=x_${t}`, token: null }),
          '/q',
        ],
        [
          'an array-style name',
          () => app.request({ method: 'GET', url: '/api/users?token[]=whatever', token: null }),
          '/token[]',
        ],
      ];
      for (const [what, send, pointer] of sends) {
        const body = await refused(send, 400, 'validation_failed');
        expect(body.errors?.[0], what).toMatchObject({ in: 'query', pointer });
      }
    });

    it('two Authorization headers with 400, even when the first is valid', async () => {
      const send = () =>
        app.request({
          method: 'POST',
          url: '/api/users',
          payload: makeUser(),
          token: null,
          headers: twice('authorization', `Bearer ${app.adminToken}`, 'Bearer gth_other'),
        });
      expect((await refused(send, 400, 'validation_failed')).errors?.[0]).toMatchObject({
        in: 'headers',
        pointer: '/authorization',
      });
      // Through Node's own parser, which keeps the first header and drops the second.
      const before = await state();
      const user = JSON.stringify(makeUser());
      const res = await rawRequest(
        port,
        [
          'POST /api/users HTTP/1.1',
          'Host: 127.0.0.1',
          `Authorization: Bearer ${app.adminToken}`,
          'Authorization: Bearer gth_other',
          'Content-Type: application/json',
          `Content-Length: ${Buffer.byteLength(user)}`,
          'Connection: close',
          '',
          user,
        ].join('\r\n'),
      );
      expectRawProblem(res, 400, 'validation_failed');
      expect(await state()).toEqual(before);
    });

    it('a malformed percent-encoding or an over-long path segment with a problem, request id and security headers', async () => {
      const bad = await refused(
        () => app.request({ method: 'GET', url: '/api/users/%E0%A4%A' }),
        400,
        'bad_request',
      );
      expect(bad.detail).not.toContain('%E0');
      const long = await app.request({ method: 'GET', url: `/api/users/user_${'a'.repeat(300)}` });
      expectProblem(long, 414, 'uri_too_long');
      for (const res of [long]) expectSecurityHeaders(res.headers);
      const raw = await rawRequest(
        port,
        'DELETE /api/users/%E0%A4%A HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
      );
      expectRawProblem(raw, 400, 'bad_request');
    });

    it('a request that is not HTTP with a problem, a request id and the security headers', async () => {
      const before = await state();
      expectRawProblem(await rawRequest(port, 'NOT HTTP AT ALL\r\n\r\n'), 400, 'bad_request');
      expect(await state()).toEqual(before);
    });
  });

  describe('audit', () => {
    it('refused edge inputs add no audit row and no event; the next change adds one of each', async () => {
      const before = await state();
      await app.request({ method: 'POST', url: '/api/users', headers: json, payload: nestedArray(100) });
      await app.request({
        method: 'POST',
        url: `/api/users?access_token=${app.adminToken}`,
        payload: makeUser(),
      });
      await app.request({
        method: 'POST',
        url: '/api/users',
        payload: makeUser(),
        token: null,
        headers: twice('authorization', `Bearer ${app.adminToken}`, `Bearer ${app.adminToken}`),
      });
      await app.request({
        method: 'POST',
        url: '/api/users',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        payload: gzipSync(JSON.stringify(makeUser())),
      });
      expect(await state()).toEqual(before);
      expect((await app.request({ method: 'POST', url: '/api/users', payload: makeUser() })).statusCode).toBe(
        201,
      );
      expect(await state()).toEqual({
        ...before,
        users: before.users + 1,
        audit: before.audit + 1,
        outbox: before.outbox + 1,
      });
    });

    it('never writes a token sent in a URL to the log', async () => {
      const t = app.adminToken;
      lines.length = 0;
      await app.request({ method: 'GET', url: `/api/users?limit=2&access_token=${t}`, token: null });
      await app.request({
        method: 'GET',
        url: `/api/users?Access_Token=${encodeURIComponent(t)}`,
        token: null,
      });
      await app.request({ method: 'GET', url: `/api/me?q=${t}`, token: null });
      await app.request({ method: 'GET', url: `/api/tokens/${t}` });
      await rawRequest(
        port,
        `GET /api/users?access_token=${t} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      );
      const logs = lines.join('');
      expect(logs).toContain('incoming request');
      expect(logs).toContain('access_token=[redacted]');
      expect(logs).toContain('limit=2');
      expect(logs.includes(t), 'the token is in the log').toBe(false);
      expect(logs.includes(t.slice(4, 36)), "the token's random part is in the log").toBe(false);
    });
  });
});
