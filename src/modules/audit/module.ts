import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Change, RecordAudit } from '../../change.js';
import type { CopyText, DialectHelpers } from '../../db/dialects/helpers.js';
import type { Tables } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { ConfigDocument } from '../config/schemas.js';
import { auditRoutes } from './routes.js';
import { createAuditService, type AuditService } from './service.js';
import { createAuditStore } from './store.js';

export function createAuditModule({ helpers, copyText, ...deps }: { db: Kysely<Tables>; helpers: DialectHelpers; copyText: CopyText | null; change: Change; record: RecordAudit; clock: Clock; settings: () => ConfigDocument }) {
  const service = createAuditService({ ...deps, store: createAuditStore(helpers, copyText) });
  return { service, routes: (api: FastifyInstance) => api.register(auditRoutes, { prefix: '/audit', audit: service }) };
}

/** Runs the retention purge now and then every `intervalMs`; returns a stop function. */
export function startRetention(service: AuditService, logger: Logger, also: (() => Promise<void>)[] = [], intervalMs = 3600_000): () => void {
  const run = () => {
    for (const task of also) task().catch((err: unknown) => logger.warn({ err }, 'a retention task failed; it will run again'));
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
