import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Tables, Trx } from '../db/tables.js';
import { AppError, fieldError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import type { RequestCtx } from '../lib/request-ctx.js';

/** Keys are kept 24 hours. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
/** A key whose request has not finished after this long is taken to be abandoned (its process died). */
const IN_FLIGHT_LEASE_MS = 60_000;
const KEY = /^[\x21-\x7e]{1,255}$/;

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The status a route answers on success: its first declared 2xx. */
function successStatus(request: FastifyRequest): number {
  const statuses = Object.keys((request.routeOptions.schema?.response ?? {})).map(Number).filter((s) => s >= 200 && s < 300);
  return statuses[0] ?? 200;
}

/**
 * `Idempotency-Key` on POST: the same key with the same request within 24 h replays the first answer; with a
 * different request it is a 422; while the first is still running, a 409. The answer is stored by
 * `change()` in the change's own transaction (`storeAnswer`), so a crash never leaves one without the other.
 */
export function createIdempotency({ db, clock }: { db: Kysely<Tables>; clock: Clock }) {
  return {
    /** preHandler: after validation, so the hash covers the parsed body. */
    preHandler: async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      const key = request.headers['idempotency-key'];
      if (request.method !== 'POST' || key === undefined || !request.principal) return undefined;
      if (typeof key !== 'string' || !KEY.test(key)) throw fieldError('headers', '/idempotency-key', 'must be 1–255 visible ASCII characters');
      const actor = request.principal.userId;
      const hash = createHash('sha256').update(`${request.routeOptions.url ?? ''}\n${request.url}\n${canonical(request.body)}`).digest('hex');
      const now = clock.now();
      await db.deleteFrom('idempotency_keys').where('actor', '=', actor).where('key', '=', key).where('created_at', '<', now - IDEMPOTENCY_TTL_MS).execute();
      const existing = await db.selectFrom('idempotency_keys').selectAll().where('actor', '=', actor).where('key', '=', key).executeTakeFirst();
      if (existing) {
        if (existing.request_hash !== hash) throw new AppError('idempotency.key_reused', 'This Idempotency-Key was used for a different request; use a new key.');
        if (existing.completed_at !== null) {
          const body = existing.response;
          reply.code(Number(existing.status)).header('idempotency-replayed', 'true');
          return body === null ? reply.send(null) : reply.type('application/json; charset=utf-8').send(body);
        }
        if (Number(existing.created_at) > now - IN_FLIGHT_LEASE_MS) throw new AppError('idempotency.in_flight', 'The first request with this key is still running; retry in a moment.', { retry_after_s: 1 });
        await db.updateTable('idempotency_keys').set({ created_at: now }).where('actor', '=', actor).where('key', '=', key).execute();
      } else {
        const inserted = await db.insertInto('idempotency_keys').values({ actor, key, request_hash: hash, status: null, response: null, created_at: now, completed_at: null })
          .onConflict((oc) => oc.columns(['actor', 'key']).doNothing()).executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) throw new AppError('idempotency.in_flight', 'The first request with this key is still running; retry in a moment.', { retry_after_s: 1 });
      }
      request.ctx.idempotency = { actor, key, status: successStatus(request) };
      return undefined;
    },

    /** onResponse: a request that did not complete frees its key, so the client may retry it. */
    onResponse: async (request: FastifyRequest): Promise<void> => {
      // No ctx when the request failed before authentication finished (the database was unreachable).
      const idem = (request.ctx as RequestCtx | undefined)?.idempotency;
      if (!idem || idem.stored) return;
      await db.deleteFrom('idempotency_keys').where('actor', '=', idem.actor).where('key', '=', idem.key).where('completed_at', 'is', null).execute();
    },

    /** Drops keys older than 24 hours (run with the retention job). */
    purge: async (): Promise<void> => {
      await db.deleteFrom('idempotency_keys').where('created_at', '<', clock.now() - IDEMPOTENCY_TTL_MS).execute();
    },
  };
}

/** Called by `change()` inside its transaction: the answer to replay is the change's result. */
export async function storeAnswer(trx: Trx, idem: NonNullable<RequestCtx['idempotency']>, after: unknown, now: number): Promise<void> {
  await trx.updateTable('idempotency_keys')
    .set({ status: idem.status, response: idem.status === 204 ? null : JSON.stringify(after), completed_at: now })
    .where('actor', '=', idem.actor).where('key', '=', idem.key).execute();
  idem.stored = true;
}
