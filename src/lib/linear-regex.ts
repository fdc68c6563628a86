import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';

/**
 * Regular expressions a caller supplies (a plugin's `config_schema` patterns, the username policy's
 * `pattern`) run here, never in V8's backtracking engine: RE2 (the pure-JS port `re2js`, no native build)
 * matches in time linear in the input, so `^(a+)+$` against 10,000 characters costs microseconds, not
 * forever. RE2 has no backreferences and no lookaround; a pattern using them does not compile, and the
 * caller gets a 400 naming the field instead of a pattern that could stall the process.
 */

/** Longest pattern accepted from a caller: RE2's program size grows with it, and so does compile time. */
export const MAX_PATTERN_LENGTH = 1000;

export type LinearRegExp = { test(input: string): boolean; toString(): string };

/**
 * ECMA-262 spells code points `\uXXXX` and `\u{X…}`, RE2 `\x{X…}`; everything else a JSON Schema pattern
 * usually holds reads the same in both. Escaped backslashes are copied as pairs, so `\\u0041` stays literal.
 */
function toRe2Syntax(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c !== '\\' || i + 1 >= pattern.length) {
      out += c;
      continue;
    }
    const rest = pattern.slice(i + 1);
    const braced = /^u\{([0-9a-fA-F]{1,6})\}/.exec(rest);
    const four = /^u([0-9a-fA-F]{4})/.exec(rest);
    const m = braced ?? four;
    if (m) {
      out += `\\x{${m[1] ?? ''}}`;
      i += m[0].length;
    } else {
      out += `\\${rest[0] ?? ''}`;
      i += 1;
    }
  }
  return out;
}

let loaded: typeof RE2JS | undefined;

/**
 * re2js, loaded at the first caller pattern rather than at start: most servers never compile one, and its
 * 250 KB of source would stay in every idle server's heap (idle RSS, bench/RESULTS.md).
 */
function re2(): typeof RE2JS {
  loaded ??= (createRequire(import.meta.url)('re2js') as { RE2JS: typeof RE2JS }).RE2JS;
  return loaded;
}

const FLAGS = { i: 'CASE_INSENSITIVE', s: 'DOTALL', m: 'MULTILINE' } as const;

/**
 * Compiles a caller's pattern for RE2. `flags` takes `i`, `s` and `m`; `u` (always on in RE2) and others are
 * ignored. Throws an `Error` whose message says why the pattern is refused (too long, or a construct RE2
 * cannot run in linear time such as a backreference or a lookahead).
 */
export function compileLinear(pattern: string, flags = ''): LinearRegExp {
  if (pattern.length > MAX_PATTERN_LENGTH) throw new Error(`is longer than ${MAX_PATTERN_LENGTH} characters`);
  let bits = 0;
  const RE2 = re2();
  for (const f of flags) bits |= f in FLAGS ? RE2[FLAGS[f as keyof typeof FLAGS]] : 0;
  let re: RE2JS;
  try {
    re = RE2.compile(toRe2Syntax(pattern), bits);
  } catch (err) {
    const why = (err as Error).message.replace(/^error parsing regexp: /, '');
    throw new Error(
      `is not a pattern Gatehouse can run in linear time (RE2 syntax; no backreferences or lookaround): ${why}`,
      { cause: err },
    );
  }
  // Ajv caches compiled patterns by `toString()`: without a distinct one, every pattern would share the first.
  return { test: (input: string) => re.test(input), toString: () => `/${pattern}/${flags}` };
}

/**
 * Ajv's `code.regExp` engine: every `pattern`, `patternProperties` key and regex-based format Ajv compiles
 * goes through `compileLinear`. Ajv embeds `code` only in standalone output, which Gatehouse does not use.
 */
export const linearRegExpEngine = Object.assign(
  (pattern: string, flags: string): LinearRegExp => compileLinear(pattern, flags),
  { code: 'compileLinear' },
);
