import type { ErrorObject } from 'ajv';
import type { FieldError } from '../errors.js';

const PARTS: Record<string, FieldError['in']> = {
  body: 'body',
  querystring: 'query',
  params: 'params',
  headers: 'headers',
};

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Turns Ajv errors into the problem's `errors[]`; an unknown-field error lists every unknown key. */
export function toFieldErrors(errors: ErrorObject[], context: string | undefined): FieldError[] {
  const where = PARTS[context ?? 'body'] ?? 'body';
  const out: FieldError[] = [];
  for (const e of errors) {
    if (e.keyword === 'additionalProperties') {
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const data = e.data && typeof e.data === 'object' ? Object.keys(e.data) : [];
      const unknown = data.filter((k) => !known.includes(k));
      for (const key of unknown.length ? unknown : [String(e.params.additionalProperty)]) {
        out.push({
          in: where,
          pointer: `${e.instancePath}/${escapePointer(key)}`,
          message: `unknown field "${key}"`,
        });
      }
    } else if (e.keyword === 'required') {
      const key = String(e.params.missingProperty);
      out.push({ in: where, pointer: `${e.instancePath}/${escapePointer(key)}`, message: 'is required' });
    } else if (
      e.keyword === 'pattern' &&
      typeof e.data === 'string' &&
      // eslint-disable-next-line no-control-regex -- NUL is exactly what this reports
      /[\u0000\uD800-\uDFFF]/.test(e.data)
    ) {
      out.push({
        in: where,
        pointer: e.instancePath,
        message: 'must not contain NUL characters or unpaired surrogates',
      });
    } else {
      out.push({ in: where, pointer: e.instancePath, message: e.message ?? 'is invalid' });
    }
  }
  return out;
}
