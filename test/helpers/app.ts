import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { buildApp, type GatehouseApp } from '../../src/app.js';
import { bootstrapAdmin } from '../../src/bootstrap.js';
import { createDb, type Database } from '../../src/db/create-db.js';
import type { Tables } from '../../src/db/tables.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { defaultEnv } from '../../src/env/load.js';
import type { Env } from '../../src/env/schema.js';
import { createFakeClock } from '../../src/lib/clock.js';
import { createIds } from '../../src/lib/ids.js';
import { createLogger } from '../../src/lib/logger.js';
import { systemCtx } from '../../src/lib/request-ctx.js';

export type TestApp = GatehouseApp & {
  database: Database;
  clock: ReturnType<typeof createFakeClock>;
  adminToken: string;
  adminId: string;
  /** The audit secret this app keys the chain and signs checkpoints with (random per app unless given). */
  auditKey: Buffer;
  /** `app.inject` with the admin token unless `token` says otherwise (`null`: no Authorization header). */
  request(options: InjectOptions & { token?: string | null }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
};

/** The whole app over a real, migrated database, with a fake clock and a bootstrap admin token. */
export async function startTestApp(
  url: string,
  options: {
    logLines?: string[];
    realLimits?: boolean;
    env?: Partial<Env>;
    auditKey?: Buffer;
    /** A restart: the database is another app's (give its audit key too), whose admin this one keeps. */
    restartOf?: Pick<TestApp, 'adminToken' | 'adminId'>;
  } = {},
): Promise<TestApp> {
  const logger = options.logLines ? captureLogger(options.logLines) : createLogger('silent', false);
  const database = createDb(url, logger);
  await migrateToLatest(database.db);
  const clock = createFakeClock(Date.now());
  const auditKey = options.auditKey ?? randomBytes(32);
  const built = await buildApp({
    env: defaultEnv(options.env),
    database,
    logger,
    clock,
    ids: createIds(),
    auditKey,
  }).catch(async (err: unknown) => {
    await database.close(); // e.g. refused for another audit key: leave no pool open
    throw err;
  });
  await built.app.ready();
  const boot = options.restartOf
    ? { secret: options.restartOf.adminToken, userId: options.restartOf.adminId }
    : await bootstrapAdmin(built.services);
  if (!boot) throw new Error('test database was not empty');
  if (!options.realLimits && !options.restartOf) {
    // Suites send hundreds of requests from one IP; rate limits are tested on their own (test/ratelimit).
    const generous = { max: 1_000_000, window_s: 60 };
    await built.services.config.patch(
      systemCtx('test'),
      { rate_limits: { default: generous, anonymous: generous, login: generous } },
      undefined,
      false,
    );
  }
  return {
    ...built,
    database,
    clock,
    adminToken: boot.secret,
    adminId: boot.userId,
    auditKey,
    request: ({ token, ...options }) => {
      const auth = token === null ? {} : { authorization: `Bearer ${token ?? boot.secret}` };
      return built.app.inject({ ...options, headers: { ...auth, ...(options.headers ?? {}) } });
    },
    close: async () => {
      await built.app.close();
      await database.close();
    },
  };
}

/** The production logger's settings at trace level, writing each line into `lines`. */
function captureLogger(lines: string[]) {
  const sink = new Writable({
    write: (chunk: Buffer, _enc, cb) => {
      lines.push(chunk.toString());
      cb();
    },
  });
  return createLogger('trace', false, sink);
}

/** Asserts an RFC 9457 problem answer with this status and code; returns its body. */
export function expectProblem(res: LightMyRequestResponse, status: number, code: string) {
  expect(res.headers['content-type'], res.body).toMatch(/^application\/problem\+json/);
  const body = res.json();
  expect({ status: res.statusCode, code: body.code }, res.body).toEqual({ status, code });
  expect(body).toMatchObject({
    type: `urn:gatehouse:problem:${code}`,
    status,
    title: expect.any(String),
    request_id: expect.any(String),
  });
  return body as {
    detail?: string;
    errors?: { in: string; pointer: string; message: string }[];
    required_permission?: string;
  };
}

/** The number of rows in a table. */
export async function rowCount(app: TestApp, table: keyof Tables): Promise<number> {
  const row = await app.database.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Counts of audit rows and outbox events: what a change must add one of each to, and a rejection none. */
export async function counts(app: TestApp): Promise<{ users: number; audit: number; outbox: number }> {
  return {
    users: await rowCount(app, 'users'),
    audit: await rowCount(app, 'audit_events'),
    outbox: await rowCount(app, 'outbox'),
  };
}

/** Builds a user creation body with a unique username. */
let seq = 0;
export function makeUser(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  seq += 1;
  return { username: `user${seq}.${process.pid}`, ...overrides };
}

export const ADMIN_ROLE = 'role_0000000000e008000000000001';
export const AUDITOR_ROLE = 'role_0000000000e008000000000002';

/**
 * A user holding a fresh role with `permissions`, and a token for it with `scopes` (default: the same),
 * minted by the admin. Returns the user id, the role id and the token secret.
 */
export async function makePrincipal(
  app: TestApp,
  {
    permissions,
    scopes,
    kind = 'human',
  }: { permissions: string[]; scopes?: string[]; kind?: 'human' | 'service' },
): Promise<{ userId: string; roleId: string | null; token: string; tokenId: string }> {
  const user = await app.request({ method: 'POST', url: '/api/users', payload: makeUser({ kind }) });
  expect(user.statusCode, user.body).toBe(201);
  const userId: string = user.json().id;
  let roleId: string | null = null;
  if (permissions.length > 0) {
    const role = await app.request({
      method: 'POST',
      url: '/api/roles',
      payload: { name: `r${seq++}-${process.pid}`, permissions },
    });
    expect(role.statusCode, role.body).toBe(201);
    roleId = role.json().id;
    const assigned = await app.request({ method: 'PUT', url: `/api/users/${userId}/roles/${roleId}` });
    expect(assigned.statusCode, assigned.body).toBe(204);
  }
  const token = await app.request({
    method: 'POST',
    url: '/api/tokens',
    payload: { name: 'test', scopes: scopes ?? permissions, user_id: userId },
  });
  expect(token.statusCode, token.body).toBe(201);
  return { userId, roleId, token: token.json().secret, tokenId: token.json().id };
}
