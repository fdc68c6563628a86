import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLIENT_SCHEMA_PATH, clientSchemaSource } from '../../scripts/gen-client.js';

// The README's example runs against the packed package in client-package.test.ts.
describe('typed client (packages/client)', () => {
  it('is generated from the current OpenAPI document (run `npm run gen:client` when this fails)', async () => {
    const committed = readFileSync(CLIENT_SCHEMA_PATH, 'utf8');
    expect(
      committed === (await clientSchemaSource()),
      'packages/client/src/schema.ts is stale: run `npm run gen:client` and commit it',
    ).toBe(true);
  });
});
