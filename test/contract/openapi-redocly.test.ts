import { createConfig, lintFromString, type NormalizedProblem } from '@redocly/openapi-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';

/**
 * The warnings Redocly's `recommended` ruleset may report, each argued. Anything else (a new warning, or one
 * of these gone) fails the test, so the list stays the truth.
 */
const ACCEPTED_WARNINGS = [
  // The ops probes take no input and sit outside /api (no token, no limiter): no 4xx is ever answered, and
  // declaring one would tell a client to expect something that cannot happen.
  'operation-4xx-response #/paths/~1healthz/get/responses',
  'operation-4xx-response #/paths/~1readyz/get/responses',
  'operation-4xx-response #/paths/~1metrics/get/responses',
  // Single sign-on is a browser round trip: success is a 302 to the identity provider, then back to the
  // console; there is no 2xx to declare.
  'operation-2xx-response #/paths/~1api~1auth~1oidc~1{id}~1start/get/responses',
  'operation-2xx-response #/paths/~1api~1auth~1oidc~1{id}~1callback/get/responses',
];

const describeProblem = (p: NormalizedProblem) => `${p.ruleId} ${p.location[0]?.pointer ?? '?'}`;

/** Issue 20, item 2: a real consumer's linter accepts the document the server serves. */
describe("OpenAPI document under Redocly's recommended ruleset", () => {
  let app: TestApp;
  let database: TestDatabase;
  let problems: NormalizedProblem[];

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    app = await startTestApp(database.url);
    const base = await app.app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${base}/api/openapi.json`);
    expect(res.status).toBe(200);
    problems = await lintFromString({
      source: await res.text(),
      absoluteRef: `${base}/api/openapi.json`,
      config: await createConfig({ extends: ['recommended'] }),
    });
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it('reports no error', () => {
    const errors = problems.filter((p) => p.severity === 'error');
    expect(errors.map((p) => `${describeProblem(p)}: ${p.message}`)).toEqual([]);
  });

  it('reports only the warnings argued above', () => {
    const warnings = problems.filter((p) => p.severity === 'warn').map(describeProblem);
    expect(warnings.sort()).toEqual([...ACCEPTED_WARNINGS].sort());
  });
});
