import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';

type Schema = Record<string, unknown>;
type Operation = {
  parameters?: { name: string; in: string; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
};
type Doc = {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
};

/**
 * Issue #16, finding 10: an unbounded integer in a request reaches PostgreSQL, which answers "out of range"
 * (a 500) where SQLite compares quietly. Every integer or number a request can carry, in any operation's
 * parameters or body, must declare both bounds, inside the range JavaScript and a `bigint` column hold.
 */
describe('request integers', () => {
  let app: TestApp;
  let database: TestDatabase;
  let doc: Doc;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    app = await startTestApp(database.url);
    doc = (await app.request({ method: 'GET', url: '/api/openapi.json', token: null })).json();
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  /** Every numeric node under `schema`, with where it is; `$ref`s followed once each. */
  function numbers(
    schema: unknown,
    where: string,
    seen = new Set<string>(),
  ): { where: string; node: Schema }[] {
    if (!schema || typeof schema !== 'object') return [];
    const node = schema as Schema;
    const ref = node.$ref;
    if (typeof ref === 'string') {
      if (seen.has(ref)) return [];
      seen.add(ref);
      return numbers(doc.components?.schemas?.[ref.split('/').pop() ?? ''], `${where} → ${ref}`, seen);
    }
    const types = [node.type].flat();
    const own = types.includes('integer') || types.includes('number') ? [{ where, node }] : [];
    const children: [string, unknown][] = [
      ...Object.entries((node.properties as Record<string, unknown> | undefined) ?? {}).map(
        ([k, v]) => [`${where}/${k}`, v] as [string, unknown],
      ),
      [`${where}/[]`, node.items],
      [`${where}/*`, node.additionalProperties],
      ...(['anyOf', 'oneOf', 'allOf'] as const).flatMap((k) =>
        ((node[k] as unknown[] | undefined) ?? []).map((v) => [where, v] as [string, unknown]),
      ),
    ];
    return [...own, ...children.flatMap(([w, child]) => numbers(child, w, seen))];
  }

  it('bounds every integer and number in parameters and bodies to the safe range', () => {
    const found: { where: string; node: Schema }[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const at = `${method.toUpperCase()} ${path}`;
        for (const p of op.parameters ?? []) found.push(...numbers(p.schema, `${at} ${p.in}:${p.name}`));
        for (const [type, media] of Object.entries(op.requestBody?.content ?? {}))
          found.push(...numbers(media.schema, `${at} body(${type})`));
      }
    }
    expect(found.length, 'the document has request integers to check').toBeGreaterThan(5);
    const unbounded = found
      // A constant (`const: 1`, or an `enum` of numbers) takes only the values it lists.
      .filter(
        ({ node }) =>
          typeof node.const !== 'number' &&
          !(Array.isArray(node.enum) && node.enum.every((v) => typeof v === 'number')),
      )
      .filter(
        ({ node }) =>
          !(
            typeof node.maximum === 'number' &&
            node.maximum <= Number.MAX_SAFE_INTEGER &&
            typeof node.minimum === 'number' &&
            node.minimum >= -Number.MAX_SAFE_INTEGER
          ),
      )
      .map(({ where }) => where);
    expect(unbounded).toEqual([]);
  });
});
