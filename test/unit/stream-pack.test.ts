import { describe, expect, it } from 'vitest';
import { BATCH_BYTES, pack } from '../../src/modules/audit-streams/relay.js';

const event = (seq: number, bytes: number) => ({ seq, detail: 'x'.repeat(bytes) });

describe('audit stream batches (pack)', () => {
  it('puts every event in when they fit, covering up to the given seq', () => {
    const out = pack([event(3, 10), event(7, 10)], 12);
    expect(out.body.split('\n')).toHaveLength(3);
    expect(out).toMatchObject({ last: 7, upTo: 12 });
  });

  it('cuts at BATCH_BYTES and then covers only what it sends', () => {
    const big = Math.floor(BATCH_BYTES / 3);
    const out = pack([event(1, big), event(2, big), event(3, big), event(4, big)], 9);
    expect(Buffer.byteLength(out.body)).toBeLessThanOrEqual(BATCH_BYTES);
    expect(out).toMatchObject({ last: 2, upTo: 2 });
  });

  it('sends one event bigger than the limit alone', () => {
    const out = pack([event(5, BATCH_BYTES + 1), event(6, 1)], 6);
    expect(out.body.split('\n')).toHaveLength(2);
    expect(out).toMatchObject({ last: 5, upTo: 5 });
  });

  it('sends nothing for no events, still covering up to the head', () => {
    expect(pack([], 4)).toEqual({ body: '', last: null, upTo: 4 });
  });
});
