import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { fieldError } from '../errors.js';
import type { RequestCtx } from '../lib/request-ctx.js';
import type { IdempotencyService } from '../modules/idempotency/service.js';
import { locationOf } from './location.js';

const KEY = /^[\x21-\x7e]{1,255}$/;

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The `id` of a stored answer, if it has one. */
function createdId(response: string): string | null {
  const parsed = JSON.parse(response) as unknown;
  const id = typeof parsed === 'object' && parsed !== null ? (parsed as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? id : null;
}

/** The status a route answers on success: its first declared 2xx. */
function successStatus(request: FastifyRequest): number {
  const statuses = Object.keys(request.routeOptions.schema?.response ?? {})
    .map(Number)
    .filter((s) => s >= 200 && s < 300);
  return statuses[0] ?? 200;
}

/**
 * The HTTP side of `Idempotency-Key` (the rules and the table are `modules/idempotency`): reads the header,
 * hashes the parsed request, replays a stored answer, and frees the key of a request that did not complete.
 */
export function createIdempotency(idempotency: IdempotencyService) {
  return {
    /** preHandler: after validation, so the hash covers the parsed body. */
    preHandler: async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      const key = request.headers['idempotency-key'];
      if (request.method !== 'POST' || key === undefined || !request.principal) return undefined;
      if (typeof key !== 'string' || !KEY.test(key))
        throw fieldError('headers', '/idempotency-key', 'must be 1–255 visible ASCII characters');
      const actor = request.principal.userId;
      const hash = createHash('sha256')
        .update(`${request.routeOptions.url ?? ''}\n${request.url}\n${canonical(request.body)}`)
        .digest('hex');
      const replay = await idempotency.begin({ actor, key }, hash);
      if (replay) {
        reply.code(replay.status).header('idempotency-replayed', 'true');
        // The first answer's Location again: a replayed 201 names what the first one created.
        const created = replay.status === 201 && replay.response !== null ? createdId(replay.response) : null;
        if (created && request.routeOptions.config.location)
          reply.header('location', locationOf(request, { id: created }));
        return replay.response === null
          ? reply.send(null)
          : reply.type('application/json; charset=utf-8').send(replay.response);
      }
      request.ctx.idempotency = { actor, key, status: successStatus(request) };
      return undefined;
    },

    /** onResponse: a request that did not complete frees its key, so the client may retry it. */
    onResponse: (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void => {
      // No ctx when the request failed before authentication finished (the database was unreachable).
      const idem = (request.ctx as RequestCtx | undefined)?.idempotency;
      if (!idem || idem.stored) return done();
      idempotency.release(idem).then(() => done(), done);
    },
  };
}
