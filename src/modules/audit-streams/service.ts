import type { Kysely } from 'kysely';
import { runPrepared, type Change, type Prepared } from '../../change.js';
import type { Tables } from '../../db/tables.js';
import { AppError, assertFound, fieldError } from '../../errors.js';
import { decodeCursor, DEFAULT_LIMIT, toPage } from '../../lib/pagination.js';
import type { Clock } from '../../lib/clock.js';
import { isId, type Ids } from '../../lib/ids.js';
import { systemCtx, type RequestCtx } from '../../lib/request-ctx.js';
import { checkTargetUrl } from '../../lib/ssrf-guard.js';
import { givenOrNewSecret } from '../../lib/standard-webhooks.js';
import type { AuditService } from '../audit/service.js';
import type { ConfigDocument } from '../config/schemas.js';
import { assertMayStreamAudit, creatorOf } from '../events/reach.js';
import type {
  AuditStream,
  AuditStreamWithSecret,
  CreateAuditStreamBody,
  ResumeAuditStreamBody,
  UpdateAuditStreamBody,
} from './schemas.js';
import { toAuditStream, type AuditStreamsStore, type StreamPatch } from './store.js';

type Deps = {
  db: Kysely<Tables>;
  change: Change;
  store: AuditStreamsStore;
  ids: Ids;
  clock: Clock;
  settings: () => ConfigDocument;
  audit: Pick<AuditService, 'headSeq'>;
};

const WHAT = 'An audit stream';

/** The answer's lag against the head after the change committed (its own event included). */
function withLag(stream: AuditStream, head: number): AuditStream {
  return { ...stream, lag: Math.max(0, head - stream.last_seq) };
}

function streamId(id: string): string {
  if (!isId('stream', id)) throw new AppError('not_found', 'No audit stream has this id.');
  return id;
}

/** What every operation shares: the URL check, the cursor for a `from_seq`, loading, and one-change updates. */
function shared({ db, change, store, settings, audit }: Deps) {
  /** The same guard and setting as webhook endpoints: https, never an internal address unless allowed. */
  const checkUrl = (raw: string) => checkTargetUrl(raw, settings().webhooks.allow_private_targets);

  /** The cursor for "deliver from `fromSeq` on" (default: the next event); never past the next event. */
  function cursorFor(fromSeq: number | undefined, head: number): number {
    if (fromSeq === undefined) return head;
    if (fromSeq > head + 1)
      throw fieldError('body', '/from_seq', `must be at most ${head + 1}, the seq of the next event`);
    return Math.max(0, fromSeq - 1);
  }

  async function load(id: string) {
    return assertFound(await store.find(db, streamId(id)), 'The audit stream');
  }

  /** One change on an existing stream made ready: `patch` computed from the row as the transaction reads it. */
  async function prepareAlter(
    id: string,
    action: 'audit_stream.update' | 'audit_stream.resume' | 'audit_stream.pause',
    patch: (row: AuditStream) => StreamPatch,
  ): Promise<Prepared<AuditStream>> {
    const head = await audit.headSeq();
    return {
      spec: { action, target: { type: 'audit_stream', id } },
      write: async (trx) => {
        const before = toAuditStream(assertFound(await store.find(trx, id), 'The audit stream'), head);
        const after = await store.update(trx, id, patch(before));
        return { before, after: toAuditStream(assertFound(after, 'The audit stream'), head) };
      },
    };
  }

  /** One change on an existing stream; the answer's lag is against the head after it committed. */
  async function alter(ctx: RequestCtx, prepared: Prepared<AuditStream>): Promise<AuditStream> {
    const after = await runPrepared(change, ctx, prepared);
    return withLag(after, await audit.headSeq());
  }

  return { checkUrl, cursorFor, load, prepareAlter, alter };
}
type Shared = ReturnType<typeof shared>;

/** Reads: one stream or a page, each with its lag behind the audit head. */
function reads({ db, store, audit }: Deps, { load }: Shared) {
  return {
    /** One stream. Throws `not_found`. */
    async get(id: string): Promise<AuditStream> {
      const row = await load(id);
      return toAuditStream(row, await audit.headSeq());
    },

    async list(query: { limit?: number; cursor?: string }) {
      const limit = query.limit ?? DEFAULT_LIMIT;
      const after = query.cursor ? String(decodeCursor(query.cursor)[0]) : null;
      const rows = await store.list(db, after, limit);
      const head = await audit.headSeq();
      return toPage(
        rows,
        limit,
        (r) => toAuditStream(r, head),
        (r) => [r.id],
      );
    },
  };
}

/** A new stream's row: active, delivering after `lastSeq`, the caller its creator. */
function newRow(
  ctx: RequestCtx,
  f: { id: string; input: CreateAuditStreamBody; url: string; secret: string; lastSeq: number; now: number },
) {
  return {
    id: f.id,
    name: f.input.name,
    url: f.url,
    actions: JSON.stringify(f.input.actions ?? ['*']),
    secret: f.secret,
    status: 'active' as const,
    last_seq: f.lastSeq,
    last_error: null,
    failures: 0,
    next_attempt_at: 0,
    lock_token: null,
    locked_until: null,
    created_by: creatorOf(ctx),
    created_at: f.now,
    updated_at: f.now,
  };
}

/** Creating and deleting streams. */
function lifecycle({ change, store, ids, clock, audit }: Deps, { checkUrl, cursorFor, load }: Shared) {
  /**
   * A stream's creation made ready: audit:read and the URL (SSRF guard) checked, the start read from the audit
   * head, the id and the secret (the caller's own, else a new one) drawn. The secret rides beside the change,
   * never in its audit row or event. Throws `validation_failed`, `forbidden`.
   */
  async function prepareCreate(
    ctx: RequestCtx,
    input: CreateAuditStreamBody,
    secret?: string,
  ): Promise<Prepared<AuditStream> & { secret: string }> {
    assertMayStreamAudit(ctx, WHAT);
    const key = givenOrNewSecret(secret);
    const url = await checkUrl(input.url);
    const head = await audit.headSeq();
    const lastSeq = cursorFor(input.from_seq, head);
    const id = ids.next('stream');
    const now = clock.now();
    const row = newRow(ctx, { id, input, url, secret: key, lastSeq, now });
    return {
      secret: key,
      spec: { action: 'audit_stream.create', target: { type: 'audit_stream', id }, input: { ...input, url } },
      write: async (trx) => {
        await store.insert(trx, row);
        return { before: null, after: toAuditStream(assertFound(await store.find(trx, id)), head) };
      },
    };
  }

  /** A stream's deletion made ready: 404 early, the row read again inside. Throws `not_found`. */
  async function prepareRemove(_ctx: RequestCtx, id: string): Promise<Prepared<null>> {
    await load(id);
    const head = await audit.headSeq();
    return {
      spec: { action: 'audit_stream.delete', target: { type: 'audit_stream', id } },
      write: async (trx) => {
        const before = toAuditStream(assertFound(await store.find(trx, id), 'The audit stream'), head);
        await store.delete(trx, id);
        return { before, after: null };
      },
    };
  }

  return {
    prepareCreate,
    prepareRemove,
    /**
     * Creates a stream delivering from `from_seq` (default: the next event, its own `audit_stream.create`
     * first); the secret is in this answer only. Throws `validation_failed`, `forbidden` (no audit:read),
     * `audit_stream.name_taken`.
     */
    async create(ctx: RequestCtx, input: CreateAuditStreamBody): Promise<AuditStreamWithSecret> {
      const prepared = await prepareCreate(ctx, input);
      const after = await runPrepared(change, ctx, prepared);
      return { ...withLag(after, await audit.headSeq()), secret: prepared.secret };
    },

    /** Deletes a stream; a relay holding it finds it gone and sends nothing more. Throws `not_found`. */
    async remove(ctx: RequestCtx, id: string): Promise<void> {
      await runPrepared(change, ctx, await prepareRemove(ctx, id));
    },
  };
}

/** Changing a stream's fields and state: update, resume, and the relay's pause. */
function states({ clock, audit }: Deps, { checkUrl, cursorFor, load, prepareAlter, alter }: Shared) {
  /**
   * An update made ready: a retarget needs audit:read and a new URL passes the SSRF guard; the patch is made
   * from the row inside. Throws `not_found`, `validation_failed`, `forbidden`.
   */
  async function prepareUpdate(
    ctx: RequestCtx,
    id: string,
    input: UpdateAuditStreamBody,
  ): Promise<Prepared<AuditStream>> {
    await load(id);
    const retargets = input.url !== undefined || input.actions !== undefined;
    if (retargets) assertMayStreamAudit(ctx, WHAT);
    const url = input.url === undefined ? undefined : await checkUrl(input.url);
    return prepareAlter(id, 'audit_stream.update', (row) => ({
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(url !== undefined ? { url } : {}),
      ...(input.actions !== undefined ? { actions: JSON.stringify(input.actions) } : {}),
      ...(input.status !== undefined ? { status: input.status } : {}),
      ...(input.status === 'active' && row.status === 'paused'
        ? { failures: 0, next_attempt_at: 0, last_error: null }
        : {}),
      ...(retargets ? { created_by: creatorOf(ctx) } : {}),
      updated_at: clock.now(),
    }));
  }

  return {
    prepareUpdate,
    /**
     * Updates the fields present. Setting `url` or `actions` decides where the log goes, so the caller (who
     * must hold audit:read) becomes the stream's creator; `status: active` resumes where it stopped.
     * Throws `not_found`, `validation_failed`, `forbidden`, `audit_stream.name_taken`.
     */
    async update(ctx: RequestCtx, id: string, input: UpdateAuditStreamBody): Promise<AuditStream> {
      return alter(ctx, await prepareUpdate(ctx, id, input));
    },

    /**
     * Sets a stream active again with a clean failure count, from `from_seq` when given (a replay: events
     * from there are sent again), else where it stopped. Throws `not_found`, `validation_failed`.
     */
    async resume(ctx: RequestCtx, id: string, input: ResumeAuditStreamBody): Promise<AuditStream> {
      await load(id);
      const lastSeq =
        input.from_seq === undefined ? undefined : cursorFor(input.from_seq, await audit.headSeq());
      const prepared = await prepareAlter(id, 'audit_stream.resume', () => ({
        status: 'active',
        failures: 0,
        next_attempt_at: 0,
        last_error: null,
        ...(lastSeq !== undefined ? { last_seq: lastSeq } : {}),
        updated_at: clock.now(),
      }));
      return alter(ctx, prepared);
    },

    /** The relay's pause of a stream whose receiver kept failing: a change by `system`, the reason shown. */
    async pause(id: string, reason: string): Promise<void> {
      const prepared = await prepareAlter(id, 'audit_stream.pause', () => ({
        status: 'paused',
        last_error: reason,
        updated_at: clock.now(),
      }));
      await alter(systemCtx('audit-stream-relay'), prepared);
    },
  };
}

/** Audit streams: their rows, each change through `change()`. */
export function createAuditStreamsService(deps: Deps) {
  const h = shared(deps);
  return { ...reads(deps, h), ...lifecycle(deps, h), ...states(deps, h) };
}
export type AuditStreamsService = ReturnType<typeof createAuditStreamsService>;
