import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import type { Ids } from '../lib/ids.js';
import type { Journal } from '../modules/journal/service.js';

export type AuditDenialDeps = {
  journal: Pick<Journal, 'record'>;
  ids: Ids;
  logger: Logger;
  onFailure?: () => void;
};

/**
 * onError hook: one `denied` audit row per 401 or 403, named by the route's `config.action`. Skips a
 * request whose failed `change()` already wrote its row. A failure to write is logged and counted; the
 * caller still gets its answer.
 */
export function auditDenial({ journal, ids, logger, onFailure }: AuditDenialDeps) {
  return async (request: FastifyRequest, _reply: FastifyReply, error: Error): Promise<void> => {
    if (!(error instanceof AppError) || (error.status !== 401 && error.status !== 403)) return;
    const ctx = request.ctx ?? { requestId: request.id, ip: request.ip, userAgent: null, principal: null };
    if (ctx.audited) return;
    const params = request.params as { id?: unknown } | undefined;
    const targetId = typeof params?.id === 'string' ? params.id.slice(0, 128) : null;
    try {
      await journal.record(ctx, {
        id: ids.next('evt'),
        action: request.routeOptions.config.action ?? 'api.not_found',
        target: targetId ? { type: resourceOf(request.routeOptions.url), id: targetId } : null,
        outcome: 'denied',
        detail: `${error.code}: ${error.detail ?? error.title}`,
      });
      ctx.audited = true;
    } catch (err) {
      onFailure?.();
      logger.error({ err }, 'could not write the audit row for a denied request');
    }
  };
}

/** `/api/users/:id` → `user`: the resource a route's path id names. */
function resourceOf(url: string | undefined): string {
  const segment = /^\/api\/([a-z-]+)/.exec(url ?? '')?.[1] ?? 'unknown';
  return segment.endsWith('s') ? segment.slice(0, -1) : segment;
}
