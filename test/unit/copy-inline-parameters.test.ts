import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { inlineParameters as inline } from '../../src/db/inline-parameters.js';

const inlineParameters = (text: string, params: unknown[]) => inline(text, params, pg.escapeLiteral);

describe('inlineParameters (COPY and multi-statement queries take no bind parameters)', () => {
  it('inlines integers as they are and strings as escaped literals', () => {
    expect(inlineParameters('select a from t where x = $1 and y = $2', [42, "o'brien"])).toBe(
      "select a from t where x = 42 and y = 'o''brien'",
    );
  });

  it('escapes backslashes with an E literal, so no value can end its literal early', () => {
    expect(inlineParameters('where x = $1', ["a\\' or 1=1 --"])).toBe("where x =  E'a\\\\'' or 1=1 --'");
  });

  it('leaves $n inside string literals alone and tells $1 from $10', () => {
    const params = Array.from({ length: 10 }, (_, i) => i + 1);
    expect(inlineParameters("select '$1 ''$2''' || $10, $1", params)).toBe("select '$1 ''$2''' || 10, 1");
  });

  it('refuses a value it cannot write as a literal', () => {
    expect(() => inlineParameters('where x = $1', [1.5])).toThrow(/cannot inline/);
    expect(() => inlineParameters('where x = $1', [{ a: 1 }])).toThrow(/cannot inline/);
    expect(() => inlineParameters('where x = $1', [undefined])).toThrow(/cannot inline/);
  });

  it('writes null and booleans as SQL keywords', () => {
    expect(inlineParameters('values ($1, $2, $3)', [null, true, false])).toBe('values (null, true, false)');
  });
});
