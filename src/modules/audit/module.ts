import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Change, RecordAudit } from '../../change.js';
import type { CopyText, DialectHelpers } from '../../db/dialects/helpers.js';
import type { Tables } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { ConfigDocument } from '../config/schemas.js';
import type { AuditKeys } from './keys.js';
import { auditRoutes } from './routes.js';
import { createAuditService, type AuditService, type SealState } from './service.js';
import { createAuditStore } from './store.js';

export function createAuditModule({
  helpers,
  copyText,
  ...deps
}: {
  db: Kysely<Tables>;
  helpers: DialectHelpers;
  copyText: CopyText | null;
  change: Change;
  record: RecordAudit;
  clock: Clock;
  settings: () => ConfigDocument;
  keys: AuditKeys;
}) {
  const service = createAuditService({ ...deps, store: createAuditStore(helpers, copyText) });
  return {
    service,
    routes: (api: FastifyInstance) => api.register(auditRoutes, { prefix: '/audit', audit: service }),
  };
}

/** Runs the retention purge now and then every `intervalMs`; returns a stop function. */
export function startRetention(
  service: AuditService,
  logger: Logger,
  also: (() => Promise<void>)[] = [],
  intervalMs = 3600_000,
): () => void {
  const run = () => {
    for (const task of also)
      task().catch((err: unknown) => logger.warn({ err }, 'a retention task failed; it will run again'));
    service.purge().then(
      (n) => n > 0 && logger.info({ deleted: n }, 'audit retention purged old events'),
      (err: unknown) => logger.error({ err }, 'audit retention purge failed; it will run again'),
    );
  };
  const first = setTimeout(run, 5_000);
  const timer = setInterval(run, intervalMs);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}

/** Says at start how the chain's key stands: sealed now, or a seal that no longer verifies. */
export function logSeal(logger: Logger, state: SealState, keyId: string): void {
  if (state.sealed)
    logger.info(
      { keyed_from: state.keyedFrom, key_id: keyId },
      'audit chain sealed: links from keyed_from on are HMAC-SHA256 with the audit key',
    );
  if (!state.intact)
    logger.error(
      { keyed_from: state.keyedFrom, key_id: keyId },
      "the audit chain's seal does not verify: audit_head was altered; gatehouse audit verify reports it",
    );
}
