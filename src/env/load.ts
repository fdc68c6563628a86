import { Value } from 'typebox/value';
import { verifyTokenChecksum } from '../lib/secret-token.js';
import { AUDIT_KEY_BYTES } from './audit-key.js';
import { EnvSchema, type Env } from './schema.js';

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'EnvError';
  }
}

/**
 * Reads the settings from the environment, converts and checks them, and reports every problem at once.
 * The only place in the code that reads `process.env`.
 */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const keys = Object.keys(EnvSchema.properties) as (keyof typeof EnvSchema.properties)[];
  const raw: Record<string, unknown> = {};
  for (const key of keys) {
    const value = source[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const withDefaults = Value.Default(EnvSchema, Value.Convert(EnvSchema, raw));
  const problems = [...Value.Errors(EnvSchema, withDefaults)].map(
    (e) => `${e.instancePath.replace(/^\//, '') || 'settings'}: ${e.message}`,
  );
  const env = withDefaults as Env;
  if (env.GATEHOUSE_BOOTSTRAP_TOKEN && !verifyTokenChecksum(env.GATEHOUSE_BOOTSTRAP_TOKEN)) {
    problems.push(
      'GATEHOUSE_BOOTSTRAP_TOKEN: the checksum does not match; generate one with `gatehouse token generate`',
    );
  }
  if (env.GATEHOUSE_AUDIT_KEY && Buffer.from(env.GATEHOUSE_AUDIT_KEY, 'base64').length < AUDIT_KEY_BYTES) {
    problems.push(
      `GATEHOUSE_AUDIT_KEY: must be base64 of at least ${AUDIT_KEY_BYTES} bytes; generate one with \`openssl rand -base64 32\``,
    );
  }
  if (problems.length > 0) throw new EnvError(problems);
  return Object.freeze(Object.fromEntries(keys.filter((k) => k in env).map((k) => [k, env[k]]))) as Env;
}

/** Default Env for tests and tools that build the app without a process environment. */
export function defaultEnv(overrides: Partial<Env> = {}): Env {
  return Object.freeze({ ...loadEnv({}), ...overrides });
}
