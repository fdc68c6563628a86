import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLIENT_SCHEMA_PATH, clientSchemaSource } from '../../scripts/gen-client.js';

describe('typed client (src/client)', () => {
  it('is generated from the current OpenAPI document (run `npm run gen:client` when this fails)', async () => {
    const committed = readFileSync(CLIENT_SCHEMA_PATH, 'utf8');
    expect(committed === (await clientSchemaSource()), 'src/client/schema.ts is stale: run `npm run gen:client` and commit it').toBe(true);
  });
});
