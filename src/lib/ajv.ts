import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';

const common: Options = {
  allErrors: false, // Ajv's own advice: allErrors lets a crafted body cost unbounded work.
  strict: false, // TypeBox adds annotation keywords (e.g. examples) that strict mode would refuse.
  verbose: true, // keeps `data` and `parentSchema` on errors, to list every unknown key of an object.
  useDefaults: true,
  removeAdditional: false,
};

/**
 * The Ajv every request part is validated with (and what validates a body met elsewhere, e.g. inside a state
 * document): first error only, formats on, date-times `Date.parse` can read.
 */
export function makeAjv(coerceTypes: boolean): Ajv {
  const ajv = new Ajv({ ...common, coerceTypes });
  addFormats.default(ajv);
  // RFC 3339 allows a leap second (23:59:60Z), and ajv-formats accepts it, but `Date.parse` cannot read it:
  // a `date-time` the services could not turn into an instant would reach them as NaN. Refused here instead.
  const rfc3339 = ajv.formats['date-time'];
  if (typeof rfc3339 !== 'object' || rfc3339 instanceof RegExp || typeof rfc3339.validate !== 'function')
    throw new Error('ajv-formats: no date-time validator');
  const valid = rfc3339.validate as (s: string) => boolean;
  const compare = rfc3339.compare as ((a: string, b: string) => number | undefined) | undefined;
  ajv.addFormat('date-time', {
    type: 'string',
    validate: (s: string) => valid(s) && Number.isFinite(Date.parse(s)),
    ...(compare ? { compare } : {}),
  });
  return ajv;
}
