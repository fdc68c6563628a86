import { compileLinear, type LinearRegExp } from '../../lib/linear-regex.js';
import { definePlugin } from '../define.js';

type Config = { pattern?: string; min_length?: number; max_length?: number; reserved?: string[] };

/**
 * The pattern compiled and the reserved names lower-cased once per config object: the host hands a hook the
 * same config on every call until the plugin is reconfigured, so this is once per configuration. The pattern
 * is a caller's, so it runs in RE2 (linear time): this hook stays in-process because all it computes is bounded.
 */
const compiled = new WeakMap<Config, { pattern: LinearRegExp | null; reserved: Set<string> }>();
function compile(config: Config) {
  let c = compiled.get(config);
  if (!c) {
    c = {
      pattern: config.pattern === undefined ? null : compileLinear(`^(?:${config.pattern})$`),
      reserved: new Set((config.reserved ?? []).map((r) => r.toLowerCase())),
    };
    compiled.set(config, c);
  }
  return c;
}

/** Usernames must match a pattern and length, and may not be one of the reserved names. */
export default definePlugin<Config>({
  name: 'username-policy',
  version: '1.0.0',
  description: 'Refuses usernames that break a pattern, a length range, or a list of reserved names.',
  hooks: { before: ['user.create', 'user.update'] },
  config_schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      pattern: {
        type: 'string',
        maxLength: 500,
        format: 'regex',
        description:
          'A regular expression (RE2 syntax: no backreferences or lookaround) the whole username must match.',
      },
      min_length: { type: 'integer', minimum: 1, maximum: 64 },
      max_length: { type: 'integer', minimum: 1, maximum: 64 },
      reserved: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 1000 },
    },
  },
  timeout_ms: 100,
  failure_policy: 'fail',
  order: 10,
  before({ input }, { config }) {
    const username = input.username;
    if (typeof username !== 'string') return { allow: true };
    const name = username.normalize('NFKC').toLowerCase();
    if (config.min_length !== undefined && name.length < config.min_length)
      return { allow: false, reason: `usernames need at least ${config.min_length} characters` };
    if (config.max_length !== undefined && name.length > config.max_length)
      return { allow: false, reason: `usernames have at most ${config.max_length} characters` };
    const { pattern, reserved } = compile(config);
    if (reserved.has(name)) return { allow: false, reason: `"${name}" is a reserved name` };
    if (pattern && !pattern.test(name))
      return { allow: false, reason: `usernames must match ${config.pattern}` };
    return { allow: true };
  },
});
