import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { eventTypes } from './catalog.js';

const EventType = Type.Object(
  { type: Type.String({ examples: ['user.create'] }), description: Type.String() },
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
        summary: 'Every event type, with what it means',
        response: { 200: Type.Object({ data: Type.Array(EventType) }, { additionalProperties: false }) },
      },
    },
    async () => ({ data: eventTypes() }),
  );
};
