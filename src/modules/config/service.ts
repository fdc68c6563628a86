import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { runPrepared, type Change, type Prepared } from '../../change.js';
import type { Tables } from '../../db/tables.js';
import { AppError, assertFound } from '../../errors.js';
import { decodeIntCursor, DEFAULT_LIMIT, toPage } from '../../lib/pagination.js';
import { toFieldErrors } from '../../lib/field-errors.js';
import type { Clock } from '../../lib/clock.js';
import { diff, mergePatch, type PatchOp } from '../../lib/json-patch.js';
import { actorOf, systemCtx, type RequestCtx } from '../../lib/request-ctx.js';
import { MAX_INT4 } from '../../lib/schema.js';
import { ConfigDocument, DEFAULT_CONFIG, type ConfigVersion } from './schemas.js';
import type { ConfigStore } from './store.js';

export type Snapshot = { readonly version: number; readonly document: Readonly<ConfigDocument> };
export type ConfigChangeResult = {
  version: number;
  dry_run: boolean;
  document: ConfigDocument;
  diff: PatchOp[];
};
type ConfigServiceDeps = {
  db: Kysely<Tables>;
  change: Change;
  store: ConfigStore;
  clock: Clock;
  logger: Logger;
  pollMs?: number;
};

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

/** `"<version>"`: the strong ETag of a config version. */
export const etagOf = (version: number) => `"${version}"`;

/** True when an If-Match header names this version (or `*`). Weak tags never match: the comparison is strong. */
export function ifMatchHolds(header: string | undefined, version: number): boolean {
  if (header === undefined) return true;
  return header
    .split(',')
    .map((t) => t.trim())
    .some((t) => t === '*' || t === etagOf(version));
}

function stale(version: number): AppError {
  return new AppError(
    'precondition_failed',
    `The settings changed (now version ${version}); read them again and reapply your change.`,
    { etag: etagOf(version) },
  );
}

/** The compiled settings schema: a candidate's complete, valid document (defaults filled in). */
function documentValidator(): (candidate: unknown) => ConfigDocument {
  const ajv = new Ajv({
    allErrors: false,
    strict: false,
    useDefaults: true,
    verbose: true,
    coerceTypes: false,
  });
  addFormats.default(ajv);
  const validateDocument = ajv.compile(ConfigDocument);
  /** A complete, valid document from a candidate (defaults filled in). Throws `validation_failed` with pointers. */
  return function validate(candidate: unknown): ConfigDocument {
    const doc = structuredClone(candidate);
    if (!validateDocument(doc)) {
      const errors = toFieldErrors(validateDocument.errors ?? [], 'body');
      throw new AppError(
        'validation_failed',
        `The settings are invalid at ${errors[0]?.pointer || '/'}: ${errors[0]?.message ?? ''}`,
        { errors },
      );
    }
    return doc;
  };
}

/** The live snapshot every use case shares: swapping it, and reloading it from the store. */
function liveSnapshot({ db, store, logger }: ConfigServiceDeps) {
  const validate = documentValidator();
  const live = {
    snapshot: deepFreeze({ version: 0, document: structuredClone(DEFAULT_CONFIG) }) as Snapshot,
    listeners: [] as ((s: Snapshot) => void)[],
  };

  function swap(version: number, document: unknown): void {
    if (version <= live.snapshot.version) return;
    live.snapshot = deepFreeze({ version, document: document as ConfigDocument });
    live.listeners.forEach((l) => l(live.snapshot));
  }

  async function reload(): Promise<void> {
    const stored = await store.current(db);
    if (stored) swap(stored.version, validateStoredOrDefault(stored.document));
  }

  /** A stored document from an older release may lack newer settings: defaults fill them in. */
  function validateStoredOrDefault(document: unknown): ConfigDocument {
    try {
      return validate(document);
    } catch (err) {
      logger.error({ err }, 'the stored settings do not validate; keeping the previous snapshot');
      return live.snapshot.document;
    }
  }

  return { live, validate, swap, reload };
}
type Live = ReturnType<typeof liveSnapshot>;
type Shared = Live & { write: ReturnType<typeof versionWriter> };

/** Writing a new version: If-Match against the snapshot, the change, then the swap. */
function versionWriter({ change, store, clock }: ConfigServiceDeps, { live, swap }: Live) {
  /** A new version made ready against the current snapshot; refused inside when another one came first. */
  function prepareVersion(
    ctx: RequestCtx,
    next: ConfigDocument,
    detail?: string,
  ): Prepared<ConfigChangeResult> & { diff: PatchOp[] } {
    const current = live.snapshot;
    const ops = diff(current.document, next);
    const version = current.version + 1;
    return {
      diff: ops,
      spec: {
        action: 'config.update',
        target: { type: 'config', id: String(version) },
        ...(detail ? { detail } : {}),
      },
      write: async (trx) => {
        // Another instance may have written since our snapshot: the version's primary key refuses the second writer.
        const latest = await store.currentVersion(trx);
        if (latest !== current.version) throw stale(latest);
        const { actor, actorName } = actorOf(ctx);
        await store.insert(trx, {
          version,
          document: JSON.stringify(next),
          diff: JSON.stringify(ops),
          created_at: clock.now(),
          actor,
          actor_name: actorName,
        });
        return {
          before: { version: current.version, document: current.document },
          after: { version, dry_run: false, document: next, diff: ops },
        };
      },
      after: () => swap(version, next),
    };
  }

  async function write(
    ctx: RequestCtx,
    next: ConfigDocument,
    ifMatch: string | undefined,
    dryRun: boolean,
    detail?: string,
  ): Promise<ConfigChangeResult> {
    const current = live.snapshot;
    if (!ifMatchHolds(ifMatch, current.version)) throw stale(current.version);
    if (dryRun)
      return {
        version: current.version + 1,
        dry_run: true,
        document: next,
        diff: diff(current.document, next),
      };
    return runPrepared(change, ctx, prepareVersion(ctx, next, detail));
  }
  return Object.assign(write, { prepareVersion });
}

/** Reading the snapshot, and hearing of each new one. */
function snapshotReads({ live }: Shared) {
  return {
    /** The current snapshot: version and frozen document. Never a query. */
    get: (): Snapshot => live.snapshot,
    /** Called with each new snapshot (local changes and ones seen by polling). */
    onChange: (listener: (s: Snapshot) => void) => void live.listeners.push(listener),
  };
}

/** Starting up: the first load, and polling for other instances' versions. */
function startup(
  { db, store, logger, pollMs = 500 }: ConfigServiceDeps,
  { live, validate, reload, write }: Shared,
) {
  return {
    /** Loads the current version, writing version 1 (the defaults) on first start. */
    async init(): Promise<void> {
      await reload();
      if (live.snapshot.version > 0) return;
      try {
        await write(systemCtx('config'), validate({}), undefined, false, 'initial defaults');
      } catch (err) {
        if (!(err instanceof AppError && err.code === 'precondition_failed')) throw err;
        await reload(); // another instance wrote version 1 first
      }
    },

    /** Polls for versions written by other instances; returns a stop function. */
    startPolling(): () => void {
      const timer = setInterval(() => {
        store.currentVersion(db).then(
          (v) => (v > live.snapshot.version ? reload() : undefined),
          (err: unknown) => logger.warn({ err }, 'could not poll the settings version'),
        );
      }, pollMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}

/** Changing the settings: replace, merge-patch, or roll back to an old version. */
function documentWrites({ db, store }: ConfigServiceDeps, { live, validate, write }: Shared) {
  return {
    /**
     * A replacement made ready for a batch (`POST /api/apply`): the document validated (defaults fill what is
     * left out), no If-Match (the batch has its own). Throws `validation_failed`.
     */
    prepareReplace: (ctx: RequestCtx, doc: unknown) => write.prepareVersion(ctx, validate(doc)),

    /** PUT: replaces the document (defaults fill what is left out). Throws `validation_failed`, `precondition_failed`. */
    replace: (ctx: RequestCtx, doc: unknown, ifMatch: string | undefined, dryRun: boolean) =>
      write(ctx, validate(doc), ifMatch, dryRun),

    /** PATCH: applies an RFC 7396 merge patch. Throws `validation_failed`, `precondition_failed`. */
    patch: (ctx: RequestCtx, patch: unknown, ifMatch: string | undefined, dryRun: boolean) =>
      write(ctx, validate(mergePatch(live.snapshot.document, patch)), ifMatch, dryRun),

    /** Writes a new version equal to an old one. Throws `not_found`, `precondition_failed`. */
    async rollback(
      ctx: RequestCtx,
      version: number,
      ifMatch: string | undefined,
    ): Promise<ConfigChangeResult> {
      const old = assertFound(await store.find(db, version), `Version ${version}`);
      return write(ctx, validate(old.document), ifMatch, false, `rollback to version ${version}`);
    },
  };
}

/** Reading stored versions: one document, or the history. */
function versionReads({ db, store }: ConfigServiceDeps, { validate }: Shared) {
  return {
    /** One stored version's document. Throws `not_found`. */
    async version(version: number): Promise<ConfigDocument> {
      return validate(assertFound(await store.find(db, version), `Version ${version}`).document);
    },

    /** Versions newest first, each with its RFC 6902 diff from the previous one. */
    async history(query: {
      limit?: number;
      cursor?: string;
    }): Promise<{ data: ConfigVersion[]; next_cursor: string | null }> {
      const limit = query.limit ?? DEFAULT_LIMIT;
      const before = query.cursor ? decodeIntCursor(query.cursor, null, MAX_INT4) : null;
      return toPage(
        await store.history(db, before, limit),
        limit,
        (v) => v,
        (v) => [v.version],
      );
    },
  };
}

/**
 * The settings document: a frozen in-memory snapshot read by every request, swapped at once by a change here
 * and within `pollMs` by a change made by another instance (a version poll, the same on both dialects).
 */
export function createConfigService(deps: ConfigServiceDeps) {
  const live = liveSnapshot(deps);
  const shared: Shared = { ...live, write: versionWriter(deps, live) };
  return {
    ...snapshotReads(shared),
    ...startup(deps, shared),
    ...documentWrites(deps, shared),
    ...versionReads(deps, shared),
  };
}
export type ConfigService = ReturnType<typeof createConfigService>;
