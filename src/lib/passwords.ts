import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';

/** argon2id with at least OWASP's minimum: m = 19 MiB, t = 2, p = 1. */
const OPTIONS = {
  algorithm: 2 /* Algorithm.Argon2id, a const enum */,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export type Passwords = {
  hash(password: string): Promise<string>;
  /** True when the password matches; false for a wrong one or an unreadable hash. */
  verify(passwordHash: string, password: string): Promise<boolean>;
  /** Spends the same time as a real check, so an unknown username is not told apart by timing. */
  verifyDummy(password: string): Promise<void>;
};

export function createPasswords(): Passwords {
  let dummy: Promise<string> | undefined;
  return {
    hash: (password) => hash(password, OPTIONS),
    verify: async (passwordHash, password) => {
      try {
        return await verify(passwordHash, password);
      } catch {
        return false;
      }
    },
    verifyDummy: async (password) => {
      dummy ??= hash(randomBytes(32).toString('base64'), OPTIONS);
      await verify(await dummy, password).catch(() => false);
    },
  };
}
