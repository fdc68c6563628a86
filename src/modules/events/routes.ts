import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { eventTypes } from './catalog.js';
import { webhookRef } from './webhooks-document.js';

const EventType = Type.Object(
  {
    type: Type.String({ examples: ['user.create'] }),
    description: Type.String(),
    schema: Type.String({
      description:
        "A URI reference to this type's webhook in the OpenAPI document (`/api/openapi.json#/webhooks/<type>`, the fragment a JSON Pointer): the POST a subscribed endpoint receives, with its Standard Webhooks headers and its named payload schema.",
      examples: ['/api/openapi.json#/webhooks/user.create'],
    }),
  },
  { additionalProperties: false, title: 'EventType' },
);

export const eventsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/types',
    {
      config: { scope: 'token', action: 'event.list_types' },
      schema: {
        operationId: 'listEventTypes',
        tags: ['events'],
        summary: 'Every event type, with what it means and where its webhook payload is described',
        response: { 200: Type.Object({ data: Type.Array(EventType) }, { additionalProperties: false }) },
      },
    },
    async () => ({ data: eventTypes().map((t) => ({ ...t, schema: webhookRef(t.type) })) }),
  );
};
