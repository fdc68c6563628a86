import type { Kysely } from 'kysely';
import type { DialectHelpers } from '../../db/dialects/helpers.js';
import type { AuditEventsTable, OutboxTable, Tables, Trx } from '../../db/tables.js';
import { DB_RETRY_AFTER_S } from '../../db/translate-error.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import { actorOf, type RequestCtx } from '../../lib/request-ctx.js';
import type { AuditKeys } from '../audit/keys.js';
import type { Action } from '../events/catalog.js';
import { canonicalParts, chainHash } from './event.js';
import { createJournalStore, type JournalStore, type PendingLink } from './store.js';
import { createGroupWriter } from './writer.js';

/** What a change or an audited request records: the event but what the chain and the request decide. */
export type JournalEntry = {
  id: string;
  action: Action;
  target: { type: string; id: string | null } | null;
  outcome: 'success' | 'denied' | 'error';
  before?: unknown;
  after?: unknown;
  /** A short, caller-safe reason for a denial or an error (the problem code and detail). */
  detail?: string | null;
};

/** What a change's work returns: its answer, its journal entry, and its outbox event if it has one. */
export type Recorded<T> = { value: T; entry: JournalEntry; event?: OutboxTable };

/** What the work of several changes committed together returns: entries in order, their outbox events. */
export type RecordedAll<T> = { value: T; entries: JournalEntry[]; events: OutboxTable[] };

export type Journal = {
  /**
   * Runs `work` in a transaction, appends the entry it returns to the audit chain (and its event to the
   * outbox) as the transaction's last statements, and commits; resolves after the COMMIT. On SQLite the
   * changes waiting together share one transaction (`writer.ts`), each in a SAVEPOINT of its own. Throws what
   * `work` throws, or `unavailable` when the append or the commit failed (then nothing was changed).
   */
  commit<T>(ctx: RequestCtx, work: (trx: Trx) => Promise<Recorded<T>>): Promise<T>;
  /**
   * Several changes in one transaction of their own (never grouped with others): the chain's head is locked
   * first and handed to `work`, so nothing else commits until this does and `work` may refuse a stale read
   * by throwing; the entries are appended in order at its end. Throws what `work` throws, or `unavailable`.
   */
  commitAll<T>(
    ctx: RequestCtx,
    work: (trx: Trx, head: { seq: number }) => Promise<RecordedAll<T>>,
  ): Promise<T>;
  /** Appends one audit row that records no change (a denial, a read, a failed change). Throws `unavailable`. */
  record(ctx: RequestCtx, entry: JournalEntry): Promise<void>;
  /** Since start: transactions that committed, the changes in them, the largest, those rolled back alone. */
  stats(): { groups: number; units: number; largest: number; rolledBack: number };
};

export type JournalDeps = {
  db: Kysely<Tables>;
  helpers: Pick<
    DialectHelpers,
    'dialect' | 'lockAuditHead' | 'appendAuditInSql' | 'announceOutbox' | 'classify'
  >;
  clock: Clock;
  keys: Pick<AuditKeys, 'chain' | 'pads'>;
  /** Told after a commit that wrote outbox events, so the relay wakes at once. */
  onEvents: () => void;
  /** Changes that arrive together share a transaction; default: on for SQLite (one writer), off otherwise. */
  group?: boolean;
};

/** The stored columns of an entry, but those the chain's head decides. */
function linkOf(ctx: RequestCtx, entry: JournalEntry, now: number): PendingLink {
  // `auth.mfa.enrol`: resource `auth`, verb `enrol` (the last segment); `user.create`: `user`, `create`.
  const parts = entry.action.split('.');
  const [resource = entry.action, verb = ''] = [parts[0], parts.length > 1 ? parts.at(-1) : ''];
  const { actor, actorName, tokenId } = actorOf(ctx);
  const hasChanges = entry.before !== undefined || entry.after !== undefined;
  return {
    now,
    row: {
      id: entry.id,
      actor,
      actor_name: actorName,
      token_id: tokenId,
      action: entry.action,
      resource,
      verb,
      target_type: entry.target?.type ?? null,
      target_id: entry.target?.id ?? null,
      outcome: entry.outcome,
      request_id: ctx.requestId,
      ip: ctx.ip,
      user_agent: ctx.userAgent,
      changes: hasChanges
        ? JSON.stringify({ before: entry.before ?? null, after: entry.after ?? null })
        : null,
      detail: entry.detail ?? null,
    },
  };
}

const notWritten = (cause: unknown) =>
  new AppError(
    'unavailable',
    'The audit log could not be written, so nothing was changed; retry shortly.',
    { retry_after_s: DB_RETRY_AFTER_S },
    { cause },
  );

type Done = { link: PendingLink; event?: OutboxTable; value: unknown };

type Commit = <T>(ctx: RequestCtx, work: (trx: Trx) => Promise<Recorded<T>>) => Promise<Done>;
type Hash = (row: Omit<AuditEventsTable, 'hash'>) => string;
const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/** Each change in a transaction of its own; the append last (riding with the COMMIT where the dialect can). */
function directCommit(deps: JournalDeps, store: JournalStore, hash: Hash): Commit {
  return async (ctx, work) => {
    let written = false;
    return deps.db
      .transaction()
      .execute(async (trx) => {
        const { value, entry, event } = await work(trx);
        written = true;
        const link = linkOf(ctx, entry, deps.clock.now());
        if (store.appendInSql)
          await store.appendInSql(
            trx,
            { ...link, pads: deps.keys.pads, canonicalParts: canonicalParts(link.row) },
            event,
          );
        else await store.append(trx, [link], event ? [event] : [], hash);
        return { link, event, value };
      })
      .catch((err: unknown) => {
        throw written && !(err instanceof AppError) ? notWritten(err) : err;
      });
  };
}

/** Changes that arrive together share a transaction (`writer.ts`); their appends are one, at its end. */
function groupedCommit(deps: JournalDeps, store: JournalStore, hash: Hash) {
  const finish = async (trx: Trx, done: Done[]) => {
    const events = done.flatMap((d) => (d.event ? [d.event] : []));
    await store.append(
      trx,
      done.map((d) => d.link),
      events,
      hash,
    );
  };
  const writer = createGroupWriter<Done>(deps.db, finish, {
    lockedOut: (error) => deps.helpers.classify(error).kind === 'busy',
  });
  const commit: Commit = (ctx, work) =>
    new Promise((resolve, reject) => {
      writer.submit({
        run: async (trx) => {
          const { value, entry, event } = await work(trx);
          return { link: linkOf(ctx, entry, deps.clock.now()), event, value };
        },
        resolve,
        reject: (err, phase) =>
          reject(asError(phase === 'after' && !(err instanceof AppError) ? notWritten(err) : err)),
      });
    });
  return { commit, stats: writer.stats };
}

/**
 * The record of every change: the only writer of audit rows, outbox events and the chain's head. By default
 * SQLite commits in groups (one writer); PostgreSQL commits each change in its own transaction on a pooled
 * connection, its append riding with the COMMIT (bench/RESULTS.md, "Journal").
 */
export function createJournal(deps: JournalDeps): Journal {
  const store = createJournalStore(deps.helpers);
  const hash: Hash = (row) => chainHash(row, deps.keys.chain);
  const grouped = (deps.group ?? deps.helpers.dialect === 'sqlite') ? groupedCommit(deps, store, hash) : null;
  const commit = grouped?.commit ?? directCommit(deps, store, hash);
  const directStats = { groups: 0, units: 0, largest: 0, rolledBack: 0 };
  const journal: Journal = {
    async commit(ctx, work) {
      const done = await commit(ctx, work);
      if (!grouped) {
        directStats.groups += 1;
        directStats.units += 1;
        directStats.largest = 1;
      }
      if (done.event) deps.onEvents();
      return done.value as Awaited<ReturnType<typeof work>>['value'];
    },
    async commitAll(ctx, work) {
      let written = false;
      const done = await deps.db
        .transaction()
        .execute(async (trx) => {
          const head = await deps.helpers.lockAuditHead(trx);
          const { value, entries, events } = await work(trx, head);
          written = true;
          const now = deps.clock.now();
          await store.append(
            trx,
            entries.map((e) => linkOf(ctx, e, now)),
            events,
            hash,
          );
          return { value, events: events.length };
        })
        .catch((err: unknown) => {
          throw written && !(err instanceof AppError) ? notWritten(err) : err;
        });
      if (done.events > 0) deps.onEvents();
      return done.value;
    },
    async record(ctx, entry) {
      try {
        await journal.commit(ctx, async () => ({ value: undefined, entry }));
      } catch (err) {
        throw err instanceof AppError && err.code === 'unavailable'
          ? err
          : new AppError(
              'unavailable',
              'The audit log could not be written; retry shortly.',
              { retry_after_s: DB_RETRY_AFTER_S },
              { cause: err },
            );
      }
    },
    stats: () => grouped?.stats() ?? { ...directStats },
  };
  return journal;
}
