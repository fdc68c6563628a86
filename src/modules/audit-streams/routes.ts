import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Page } from '../../lib/pagination.js';
import { IdParams } from '../../lib/schema.js';
import {
  AuditStream,
  AuditStreamWithSecret,
  CreateAuditStreamBody,
  ListAuditStreamsQuery,
  ResumeAuditStreamBody,
  UpdateAuditStreamBody,
} from './schemas.js';
import type { AuditStreamsService } from './service.js';
import { locationOf } from '../../http/location.js';

type Routes = FastifyPluginAsyncTypebox<{ streams: AuditStreamsService }>;

/** GET / and GET /:id: audit:read. */
const readRoutes: Routes = async (app, { streams }) => {
  app.get(
    '/',
    {
      config: { scope: 'audit:read', action: 'audit_stream.list' },
      schema: {
        operationId: 'listAuditStreams',
        tags: ['audit'],
        summary: 'List audit streams, with their cursor, lag and last error',
        querystring: ListAuditStreamsQuery,
        response: { 200: Page(AuditStream, 'AuditStreamPage') },
      },
    },
    async (req) => streams.list(req.query),
  );

  app.get(
    '/:id',
    {
      config: { scope: 'audit:read', action: 'audit_stream.read' },
      schema: {
        operationId: 'getAuditStream',
        tags: ['audit'],
        summary: 'One audit stream',
        params: IdParams,
        response: { 200: AuditStream },
      },
    },
    async (req) => streams.get(req.params.id),
  );
};

/** POST / and DELETE /:id: audit:write. */
const lifecycleRoutes: Routes = async (app, { streams }) => {
  app.post(
    '/',
    {
      config: { scope: 'audit:write', action: 'audit_stream.create', location: '/api/audit/streams/{id}' },
      schema: {
        operationId: 'createAuditStream',
        tags: ['audit'],
        summary:
          'Stream the audit log to a receiver (NDJSON batches in seq order, Standard Webhooks signed); the secret is in this answer only',
        body: CreateAuditStreamBody,
        response: { 201: AuditStreamWithSecret },
      },
    },
    async (req, reply) => {
      const stream = await streams.create(req.ctx, req.body);
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .header('location', locationOf(req, stream))
        .send(stream);
    },
  );

  app.delete(
    '/:id',
    {
      config: { scope: 'audit:write', action: 'audit_stream.delete' },
      schema: {
        operationId: 'deleteAuditStream',
        tags: ['audit'],
        summary: 'Delete an audit stream',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Done' }) },
      },
    },
    async (req, reply) => {
      await streams.remove(req.ctx, req.params.id);
      return reply.code(204).send(null);
    },
  );
};

/** PUT /:id and POST /:id/resume: audit:write. */
const stateRoutes: Routes = async (app, { streams }) => {
  app.put(
    '/:id',
    {
      config: { scope: 'audit:write', action: 'audit_stream.update' },
      schema: {
        operationId: 'updateAuditStream',
        tags: ['audit'],
        summary: 'Update the fields present (status: paused stops it, active resumes it where it stopped)',
        params: IdParams,
        body: UpdateAuditStreamBody,
        response: { 200: AuditStream },
      },
    },
    async (req) => streams.update(req.ctx, req.params.id, req.body),
  );

  app.post(
    '/:id/resume',
    {
      config: { scope: 'audit:write', action: 'audit_stream.resume' },
      schema: {
        operationId: 'resumeAuditStream',
        tags: ['audit'],
        summary: 'Set a stream active again, where it stopped or from from_seq (a replay)',
        params: IdParams,
        body: ResumeAuditStreamBody,
        response: { 200: AuditStream },
      },
      // The body is optional: no body means `{}` (resume where it stopped).
      preValidation: async (req) => {
        const raw = req as { body?: unknown };
        raw.body ??= {};
      },
    },
    async (req) => streams.resume(req.ctx, req.params.id, req.body),
  );
};

/** /api/audit/streams: view with audit:read, manage with audit:write. */
export const auditStreamsRoutes: Routes = async (app, opts) => {
  await readRoutes(app, opts);
  await lifecycleRoutes(app, opts);
  await stateRoutes(app, opts);
};
