import { describe, expect, it } from 'vitest';
import { canonicalParts, chainHash } from '../../src/modules/journal/event.js';
import { createHash } from 'node:crypto';

const base = {
  id: 'evt_01jz0000000000000000000000',
  actor: 'user_01jz0000000000000000000000',
  actor_name: 'ada',
  token_id: null,
  action: 'user.update',
  resource: 'user',
  verb: 'update',
  target_type: 'user',
  target_id: 'user_01jz0000000000000000000001',
  outcome: 'success' as const,
  request_id: 'req-1',
  ip: '::1',
  user_agent: 'curl/8',
  detail: null,
};

describe('canonicalParts', () => {
  // Whatever `changes` holds, even keys named like the chain fields with the placeholders' values, the parts
  // put back together with the real prev_hash, seq and ts are the text chainHash hashes.
  const cases: Record<string, string | null> = {
    'no changes': null,
    'plain changes': JSON.stringify({ before: null, after: { username: 'ada', n: 1.5, list: [1, 'two'] } }),
    'changes holding the placeholders': JSON.stringify({
      before: { prev_hash: 'prev-hash-placeholder', seq: -1, ts: -2 },
      after: { x: ',"seq":-1,"ts":-2' },
    }),
    'unicode and escapes': JSON.stringify({
      before: null,
      after: { name: 'q"uote \\ é 😀 \u2028', ctl: '\u0001' },
    }),
  };
  for (const [name, changes] of Object.entries(cases)) {
    it(`reassembles to the hashed text: ${name}`, () => {
      const row = { ...base, changes };
      const [a, b, c, d] = canonicalParts(row);
      const full = { ...row, seq: 1234567, ts: 1764520370123, prev_hash: 'ab'.repeat(32) };
      const text = `${a}${full.prev_hash}${b}${full.seq}${c}${full.ts}${d}`;
      expect(createHash('sha256').update(text).digest('hex')).toBe(chainHash(full));
    });
  }
});
