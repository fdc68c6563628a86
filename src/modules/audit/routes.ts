import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { CountedPage } from '../../lib/pagination.js';
import { IdParams } from '../../lib/schema.js';
import {
  AUDIT_TOTAL_CAP,
  AuditCheckpoint,
  AuditEvent,
  AuditQuery,
  ExportQuery,
  VerifyResult,
} from './schemas.js';
import type { AuditService } from './service.js';
import type { RouteApp } from '../../http/route-app.js';

export const auditRoutes: FastifyPluginAsyncTypebox<{ audit: AuditService }> = async (app, { audit }) => {
  listAuditEventsRoute(app, audit);
  exportAuditEventsRoute(app, audit);
  verifyAuditChainRoute(app, audit);
  verifyAuditChainAgainstCheckpointRoute(app, audit);
  getAuditCheckpointRoute(app, audit);
  getAuditEventRoute(app, audit);
};

function listAuditEventsRoute(app: RouteApp, audit: AuditService): void {
  app.get(
    '/',
    {
      config: { scope: 'audit:read', action: 'audit.query' },
      schema: {
        operationId: 'listAuditEvents',
        tags: ['audit'],
        summary: 'Query the audit log (newest first; order=asc&after= to tail)',
        querystring: AuditQuery,
        response: {
          200: CountedPage(
            AuditEvent,
            'AuditEventPage',
            `With \`?include=total\`: how many events match the filters, counted up to ${AUDIT_TOTAL_CAP.toLocaleString('en')} (counting a long log is not free): ${AUDIT_TOTAL_CAP.toLocaleString('en')} means that many or more.`,
          ),
        },
      },
    },
    async (req) => audit.list(req.ctx, req.query),
  );
}

function exportAuditEventsRoute(app: RouteApp, audit: AuditService): void {
  app.get(
    '/export',
    {
      config: { scope: 'audit:read', action: 'audit.export' },
      schema: {
        operationId: 'exportAuditEvents',
        tags: ['audit'],
        summary: 'Stream the filtered events, oldest first, as NDJSON or CSV',
        querystring: ExportQuery,
        response: {
          200: {
            description: 'One event per line (NDJSON), or CSV with a header row.',
            content: {
              'application/x-ndjson': { schema: Type.String() },
              'text/csv': { schema: Type.String() },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const csv = req.query.format === 'csv';
      const stream = await audit.export(req.ctx, req.query);
      return reply
        .type(csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="gatehouse-audit.${csv ? 'csv' : 'ndjson'}"`)
        .send(stream as unknown as string); // Fastify streams a Readable; the schema types the documented body
    },
  );
}

function verifyAuditChainRoute(app: RouteApp, audit: AuditService): void {
  app.get(
    '/verify',
    {
      config: { scope: 'audit:read', action: 'audit.verify' },
      schema: {
        operationId: 'verifyAuditChain',
        tags: ['audit'],
        summary: 'Check the hash chain; report the first broken link',
        response: { 200: VerifyResult },
      },
    },
    async (req) => {
      keepSocketOpen(req.raw.socket);
      return audit.verify(req.ctx);
    },
  );
}

function verifyAuditChainAgainstCheckpointRoute(app: RouteApp, audit: AuditService): void {
  app.post(
    '/verify',
    {
      config: { scope: 'audit:read', action: 'audit.verify' },
      schema: {
        operationId: 'verifyAuditChainAgainstCheckpoint',
        tags: ['audit'],
        body: AuditCheckpoint,
        response: { 200: VerifyResult },
        summary:
          'Check the hash chain, then hold it against a checkpoint from GET /api/audit/checkpoint (a cut tail or a recomputed chain shows)',
      },
    },
    async (req) => {
      keepSocketOpen(req.raw.socket);
      return audit.verify(req.ctx, { checkpoint: req.body });
    },
  );
}

function getAuditCheckpointRoute(app: RouteApp, audit: AuditService): void {
  app.get(
    '/checkpoint',
    {
      config: { scope: 'audit:read', action: 'audit.checkpoint' },
      schema: {
        operationId: 'getAuditCheckpoint',
        tags: ['audit'],
        summary: "A signed checkpoint (Ed25519) of the chain's head, to keep off the database host",
        response: { 200: AuditCheckpoint },
      },
    },
    async (req) => audit.checkpoint(req.ctx),
  );
}

function getAuditEventRoute(app: RouteApp, audit: AuditService): void {
  app.get(
    '/:id',
    {
      config: { scope: 'audit:read', action: 'audit.read' },
      schema: {
        operationId: 'getAuditEvent',
        tags: ['audit'],
        summary: 'One audit event',
        params: IdParams,
        response: { 200: AuditEvent },
      },
    },
    async (req) => audit.get(req.ctx, req.params.id),
  );
}

/**
 * A walk over millions of events sends nothing for minutes; the idle-socket timeout must not cut it off.
 * (Injected test requests have a socket stand-in without timers.)
 */
function keepSocketOpen(socket: { setTimeout?: unknown }): void {
  if (typeof socket.setTimeout === 'function') (socket as { setTimeout(ms: number): void }).setTimeout(0);
}
