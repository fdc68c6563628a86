import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';

type Operation = {
  operationId?: string;
  tags?: string[];
  responses: Record<string, { content?: Record<string, unknown> }>;
  security?: unknown[];
};

describe('OpenAPI document', () => {
  let app: TestApp;
  let database: TestDatabase;
  let doc: { openapi: string; info: { version: string }; paths: Record<string, Record<string, Operation>> };

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    app = await startTestApp(database.url);
    const res = await app.request({ method: 'GET', url: '/api/openapi.json', token: null });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it('is OpenAPI 3.1 with the package version, served without a token', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe(VERSION);
    expect(JSON.parse(readFileSync('package.json', 'utf8')).version).toBe(VERSION);
  });

  it('contains every registered route and method', () => {
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)),
    );
    const registered = app.routes
      .filter((r) => r.method !== 'HEAD' && !r.hidden)
      .map((r) => `${r.method.toLowerCase()} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    expect(registered.length).toBeGreaterThan(5);
    for (const route of registered)
      expect(documented, `${route} is missing from the OpenAPI document`).toContain(route);
  });

  it('gives every /api operation an operationId, tags, a 2xx (or, for a browser redirect, 3xx) schema and problem responses', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!path.startsWith('/api')) continue;
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(op.operationId, where).toMatch(/^[a-z][A-Za-z]+$/);
        expect(op.tags?.length, where).toBeGreaterThan(0);
        expect(
          Object.keys(op.responses).some((s) => s.startsWith('2') || s === '302'),
          where,
        ).toBe(true);
        for (const status of ['400', '429', '500', '503']) {
          expect(
            op.responses[status]?.content?.['application/problem+json'],
            `${where} ${status}`,
          ).toBeDefined();
        }
        const isPublic = Array.isArray(op.security) && op.security.length === 0;
        if (!isPublic) expect(op.responses['401'] && op.responses['403'], where).toBeTruthy();
      }
    }
  });

  it('has exactly GET /api/openapi.json and the sign-in routes as public /api operations', () => {
    const publicOps = Object.entries(doc.paths)
      .flatMap(([path, ops]) =>
        Object.entries(ops)
          .filter(([, op]) => Array.isArray(op.security) && op.security.length === 0)
          .map(([m]) => `${m} ${path}`),
      )
      .filter((o) => o.includes(' /api'));
    expect(publicOps.sort()).toEqual([
      'get /api/auth/methods',
      'get /api/auth/oidc/{id}/callback',
      'get /api/auth/oidc/{id}/start',
      'get /api/openapi.json',
      'post /api/auth/login',
      'post /api/auth/login/mfa',
      'post /api/auth/login/mfa/webauthn/options',
      'post /api/auth/oidc/exchange',
    ]);
  });

  it('is a valid document: every schema in it compiles, its `$ref`s resolved against `components.schemas`', () => {
    const ajv = new Ajv2020({ strict: false });
    addFormats.default(ajv);
    const COMPONENTS = 'https://gatehouse.invalid/components.json';
    const local = <T>(value: T): T =>
      JSON.parse(JSON.stringify(value).replaceAll('"#/components/schemas/', `"${COMPONENTS}#/$defs/`)) as T;
    const schemas = (doc as { components?: { schemas?: Record<string, object> } }).components?.schemas ?? {};
    ajv.addSchema({ $id: COMPONENTS, $defs: local(schemas) });
    expect(Object.keys(schemas).length).toBeGreaterThan(50);
    for (const name of Object.keys(schemas))
      expect(() => ajv.compile({ $ref: `${COMPONENTS}#/$defs/${name}` }), name).not.toThrow();
    for (const ops of Object.values(doc.paths)) {
      for (const op of Object.values(ops)) {
        for (const r of Object.values(op.responses)) {
          for (const media of Object.values(r.content ?? {}) as { schema?: object }[]) {
            if (media.schema) expect(() => ajv.compile(local(media.schema!))).not.toThrow();
          }
        }
      }
    }
  });
});
