import type { FastifyRequest } from 'fastify';

/**
 * The `Location` of what a create route made: its `config.location` template with the answer's `id`. The same
 * template gives a replayed answer its `Location` (`idempotency.ts`) and declares the header in the document
 * (`openapi.ts`), so a 201 declares `Location` exactly where one is sent.
 */
export function locationOf(request: FastifyRequest, created: { id: string }): string {
  const template = request.routeOptions.config.location;
  if (!template) throw new Error(`${request.routeOptions.url ?? 'route'}: no config.location`);
  return template.replace('{id}', created.id);
}
