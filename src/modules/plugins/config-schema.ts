import { createRequire } from 'node:module';
import type { Ajv2020 } from 'ajv/dist/2020.js';
import type * as Ajv2020Module from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { AppError, fieldError } from '../../errors.js';
import { toFieldErrors } from '../../lib/field-errors.js';
import { compileLinear, linearRegExpEngine } from '../../lib/linear-regex.js';
import type { PluginManifest } from '../../plugins/define.js';

/**
 * A plugin's `config_schema` is arbitrary JSON Schema from a caller (`plugins:write`) or from a module an
 * operator installed; what it costs to compile and to run must be bounded by us, not by it. So its patterns
 * run in RE2 (linear time, `lib/linear-regex.ts`), and the schema and each config are bounded in size, depth
 * and number of patterns.
 */
export const SCHEMA_LIMITS = { bytes: 64 * 1024, depth: 32, patterns: 64, configBytes: 256 * 1024 } as const;

const CACHED_VALIDATORS = 256;

const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

type Found = { pointer: string; pattern: string };
type Problem = { pointer: string; message: string };

/**
 * Every regular expression in a schema with its JSON Pointer: `pattern` values and `patternProperties` keys,
 * at any depth (a `pattern` key inside a `const` is checked too, which only ever refuses more). Returns the
 * pointer of the first node nested deeper than `SCHEMA_LIMITS.depth`, or null.
 */
function collectPatterns(node: unknown, pointer: string, depth: number, out: Found[]): string | null {
  if (depth > SCHEMA_LIMITS.depth) return pointer;
  if (!node || typeof node !== 'object') return null;
  const entries: [string, unknown][] = Array.isArray(node)
    ? node.map((item, i) => [String(i), item])
    : Object.entries(node as Record<string, unknown>);
  for (const [key, value] of entries) {
    const at = `${pointer}/${escape(key)}`;
    if (key === 'pattern' && typeof value === 'string') out.push({ pointer: at, pattern: value });
    if (key === 'patternProperties' && value && typeof value === 'object' && !Array.isArray(value)) {
      for (const p of Object.keys(value)) out.push({ pointer: `${at}/${escape(p)}`, pattern: p });
    }
    const deep = collectPatterns(value, at, depth + 1, out);
    if (deep !== null) return deep;
  }
  return null;
}

/** What makes a caller's schema too costly to accept (size, depth, number of patterns, a pattern RE2 cannot run), or null. */
function costProblem(schema: Record<string, unknown>, text: string): Problem | null {
  if (Buffer.byteLength(text) > SCHEMA_LIMITS.bytes)
    return { pointer: '', message: `is larger than ${SCHEMA_LIMITS.bytes} bytes` };
  const patterns: Found[] = [];
  const deep = collectPatterns(schema, '', 0, patterns);
  if (deep !== null) return { pointer: deep, message: `is nested deeper than ${SCHEMA_LIMITS.depth} levels` };
  if (patterns.length > SCHEMA_LIMITS.patterns)
    return { pointer: '', message: `has more than ${SCHEMA_LIMITS.patterns} patterns` };
  for (const p of patterns) {
    try {
      compileLinear(p.pattern, 'u');
    } catch (err) {
      return { pointer: p.pointer, message: (err as Error).message };
    }
  }
  return null;
}

function refuse(source: 'body' | 'plugin', { pointer, message }: Problem): AppError {
  if (source === 'body') return fieldError('body', `/manifest/config_schema${pointer}`, message);
  return new AppError(
    'unprocessable',
    `The plugin's config_schema is not usable at ${pointer || '/'}: ${message}`,
  );
}

/**
 * The Ajv that compiles plugin schemas: JSON Schema 2020-12 (with no loadSchema, a remote $ref cannot be
 * resolved and the schema is refused), patterns in RE2, and `format: "regex"` checked for RE2.
 */
function makeAjv(): Ajv2020 {
  const require = createRequire(import.meta.url);
  const { Ajv2020: Ajv } = require('ajv/dist/2020.js') as typeof Ajv2020Module;
  const ajv = new Ajv({
    allErrors: false,
    strict: false,
    verbose: true,
    useDefaults: true,
    code: { regExp: linearRegExpEngine },
  });
  addFormats.default(ajv);
  // `format: "regex"` marks a string a plugin will compile as a pattern: it must compile for RE2 too.
  ajv.addFormat('regex', (s: string) => {
    try {
      compileLinear(s);
      return true;
    } catch {
      return false;
    }
  });
  return ajv;
}

/**
 * Validates plugin configs against their plugin's schema. `source` says where the schema came from: this
 * request's body (an http plugin's manifest: a 400 pointing into it), or the plugin (an installed module's,
 * or one stored before these limits: a 422).
 */
export function createConfigValidator() {
  // Made at the first plugin schema, not at start: a server without configurable plugins never needs it,
  // and Ajv's 2020-12 build with its formats is memory every idle server would hold (bench/RESULTS.md).
  let instance: Ajv2020 | undefined;
  const ajv = (): Ajv2020 => (instance ??= makeAjv());
  /**
   * Compiled validators by schema text, most recently used last: a plugin's schema changes only when it is
   * registered again, so configuring it (or a dry run) compiles nothing. Bounded, so callers cannot grow it.
   */
  const cache = new Map<string, ValidateFunction>();

  function compile(schema: Record<string, unknown>, source: 'body' | 'plugin'): ValidateFunction {
    const text = JSON.stringify(schema);
    const hit = cache.get(text);
    if (hit) {
      cache.delete(text);
      cache.set(text, hit);
      return hit;
    }
    const problem = costProblem(schema, text);
    if (problem) throw refuse(source, problem);
    let validate: ValidateFunction;
    try {
      validate = ajv().compile(schema);
    } catch (err) {
      throw refuse(source, {
        pointer: '',
        message: `is not a usable JSON Schema: ${(err as Error).message}`,
      });
    } finally {
      // Not kept by Ajv: a schema with an `$id` would otherwise refuse to compile a second time.
      ajv().removeSchema(schema);
    }
    cache.set(text, validate);
    if (cache.size > CACHED_VALIDATORS) cache.delete(cache.keys().next().value as string);
    return validate;
  }

  return {
    /** Returns the config with the schema's defaults applied. Throws `validation_failed` (400) or `unprocessable` (422, a schema not in this request). */
    check(
      manifest: PluginManifest,
      config: unknown,
      pointerBase: string,
      source: 'body' | 'plugin',
    ): Record<string, unknown> {
      const validate = compile(manifest.config_schema ?? { type: 'object' }, source);
      const copy = structuredClone(config ?? {});
      if (Buffer.byteLength(JSON.stringify(copy)) > SCHEMA_LIMITS.configBytes)
        throw fieldError('body', pointerBase, `is larger than ${SCHEMA_LIMITS.configBytes} bytes`);
      if (!validate(copy)) {
        const errors = toFieldErrors(validate.errors ?? [], 'body').map((e) => ({
          ...e,
          pointer: `${pointerBase}${e.pointer}`,
        }));
        throw new AppError(
          'validation_failed',
          `The config is invalid at ${errors[0]?.pointer ?? pointerBase}: ${errors[0]?.message ?? ''}`,
          { errors },
        );
      }
      return copy as Record<string, unknown>;
    },
  };
}
