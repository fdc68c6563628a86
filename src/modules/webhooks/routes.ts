import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { CountedPage, Page } from '../../lib/pagination.js';
import { IdParams } from '../../lib/schema.js';
import {
  CreateWebhookBody,
  Delivery,
  DeliveryParams,
  ListQuery,
  ListWebhooksQuery,
  RecoverBody,
  Recovered,
  UpdateWebhookBody,
  Webhook,
  WebhookWithSecret,
} from './schemas.js';
import type { WebhooksService } from './service.js';
import type { RouteApp } from '../../http/route-app.js';
import { locationOf } from '../../http/location.js';

const NoContent = { 204: Type.Null({ description: 'Done' }) };
const Queued = { 202: Type.Object({ delivery_id: Type.String() }, { additionalProperties: false }) };

export const webhooksRoutes: FastifyPluginAsyncTypebox<{ webhooks: WebhooksService }> = async (
  app,
  { webhooks },
) => {
  listWebhooksRoute(app, webhooks);
  createWebhookRoute(app, webhooks);
  getWebhookRoute(app, webhooks);
  updateWebhookRoute(app, webhooks);
  deleteWebhookRoute(app, webhooks);
  listWebhookDeliveriesRoute(app, webhooks);
  retryWebhookDeliveryRoute(app, webhooks);
  recoverWebhookRoute(app, webhooks);
  testWebhookRoute(app, webhooks);
  rotateWebhookSecretRoute(app, webhooks);
};

function listWebhooksRoute(app: RouteApp, webhooks: WebhooksService): void {
  app.get(
    '/',
    {
      config: { scope: 'webhooks:read', action: 'webhook.list' },
      schema: {
        operationId: 'listWebhooks',
        tags: ['webhooks'],
        summary: 'List webhook endpoints',
        querystring: ListWebhooksQuery,
        response: { 200: CountedPage(Webhook, 'WebhookPage') },
      },
    },
    async (req) => webhooks.list(req.query),
  );
}

function createWebhookRoute(app: RouteApp, webhooks: WebhooksService): void {
  app.post(
    '/',
    {
      config: { scope: 'webhooks:write', action: 'webhook.create', location: '/api/webhooks/{id}' },
      schema: {
        operationId: 'createWebhook',
        tags: ['webhooks'],
        summary: 'Create an endpoint; the signing secret is in this answer only',
        body: CreateWebhookBody,
        response: { 201: WebhookWithSecret },
      },
    },
    async (req, reply) => {
      const hook = await webhooks.create(req.ctx, req.body);
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .header('location', locationOf(req, hook))
        .send(hook);
    },
  );
}

function getWebhookRoute(app: RouteApp, webhooks: WebhooksService): void {
  app.get(
    '/:id',
    {
      config: { scope: 'webhooks:read', action: 'webhook.read' },
      schema: {
        operationId: 'getWebhook',
        tags: ['webhooks'],
        summary: 'Get an endpoint',
        params: IdParams,
        response: { 200: Webhook },
      },
    },
    async (req) => webhooks.get(req.params.id),
  );
}

function updateWebhookRoute(app: RouteApp, webhooks: WebhooksService): void {
  app.put(
    '/:id',
    {
      config: { scope: 'webhooks:write', action: 'webhook.update' },
      schema: {
        operationId: 'updateWebhook',
        tags: ['webhooks'],
        summary: 'Update the fields present',
        params: IdParams,
        body: UpdateWebhookBody,
        response: { 200: Webhook },
      },
    },
    async (req) => webhooks.update(req.ctx, req.params.id, req.body),
  );
}

function deleteWebhookRoute(app: RouteApp, webhooks: WebhooksService): void {
  app.delete(
    '/:id',
    {
      config: { scope: 'webhooks:write', action: 'webhook.delete' },
      schema: {
        operationId: 'deleteWebhook',
        tags: ['webhooks'],
        summary: 'Delete an endpoint and its deliveries',
        params: IdParams,
        response: NoContent,
      },
    },
    async (req, reply) => {
      await webhooks.remove(req.ctx, req.params.id);
      return reply.code(204).send(null);
    },
  );
}

function listWebhookDeliveriesRoute(app: RouteApp, webhooks: WebhooksService): void {
  app.get(
    '/:id/deliveries',
    {
      config: { scope: 'webhooks:read', action: 'webhook.list_deliveries' },
      schema: {
        operationId: 'listWebhookDeliveries',
        tags: ['webhooks'],
        summary: 'Deliveries, newest first, with every attempt',
        params: IdParams,
        querystring: ListQuery,
        response: { 200: Page(Delivery, 'DeliveryPage') },
      },
    },
    async (req) => webhooks.deliveries(req.params.id, req.query),
  );
}

function retryWebhookDeliveryRoute(app: RouteApp, webhooks: WebhooksService): void {
  app.post(
    '/:id/deliveries/:deliveryId/retry',
    {
      config: { scope: 'webhooks:write', action: 'webhook.retry' },
      schema: {
        operationId: 'retryWebhookDelivery',
        tags: ['webhooks'],
        summary: 'Send a delivery again now (same webhook-id)',
        params: DeliveryParams,
        response: NoContent,
      },
    },
    async (req, reply) => {
      await webhooks.retry(req.ctx, req.params.id, req.params.deliveryId);
      return reply.code(204).send(null);
    },
  );
}

function recoverWebhookRoute(app: RouteApp, webhooks: WebhooksService): void {
  app.post(
    '/:id/recover',
    {
      config: { scope: 'webhooks:write', action: 'webhook.recover' },
      schema: {
        operationId: 'recoverWebhook',
        tags: ['webhooks'],
        summary: 'Queue again every subscribed event of a time window',
        params: IdParams,
        body: RecoverBody,
        response: { 202: Recovered },
      },
    },
    async (req, reply) => reply.code(202).send(await webhooks.recover(req.ctx, req.params.id, req.body)),
  );
}

function testWebhookRoute(app: RouteApp, webhooks: WebhooksService): void {
  app.post(
    '/:id/test',
    {
      config: { scope: 'webhooks:write', action: 'webhook.test' },
      schema: {
        operationId: 'testWebhook',
        tags: ['webhooks'],
        summary: 'Send a webhook.test event to this endpoint',
        params: IdParams,
        response: Queued,
      },
    },
    async (req, reply) => reply.code(202).send({ delivery_id: await webhooks.test(req.ctx, req.params.id) }),
  );
}

function rotateWebhookSecretRoute(app: RouteApp, webhooks: WebhooksService): void {
  app.post(
    '/:id/rotate-secret',
    {
      config: { scope: 'webhooks:write', action: 'webhook.rotate_secret' },
      schema: {
        operationId: 'rotateWebhookSecret',
        tags: ['webhooks'],
        summary: 'A new secret; both sign deliveries for 24 hours',
        params: IdParams,
        response: { 200: WebhookWithSecret },
      },
    },
    async (req, reply) =>
      reply.header('cache-control', 'no-store').send(await webhooks.rotateSecret(req.ctx, req.params.id)),
  );
}
