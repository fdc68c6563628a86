import { makeAjv } from '../lib/ajv.js';
import type { FastifyInstance, FastifySchema } from 'fastify';

/**
 * One validator per request part: bodies are never coerced (`"1"` is not a number, unknown fields are
 * refused); query strings and params are coerced from text.
 */
export function registerValidators(app: FastifyInstance): void {
  const body = makeAjv(false);
  const text = makeAjv(true);
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? body : text).compile(schema as FastifySchema & object),
  );
}
