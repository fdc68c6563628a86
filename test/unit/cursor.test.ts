import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { decodeCursor, encodeCursor, toPage } from '../../src/lib/pagination.js';

describe('cursor codec', () => {
  it('round-trips keyset values with the same filters', () => {
    const c = encodeCursor(['user_01', 42], { kind: 'human' });
    expect(decodeCursor(c, { kind: 'human' }, 2)).toEqual(['user_01', 42]);
  });

  const invalid: [string, string][] = [
    ['not base64url JSON', '!!!'],
    ['JSON without keys', Buffer.from('{}').toString('base64url')],
    ['an array', Buffer.from('[1]').toString('base64url')],
    ['empty', ''],
  ];
  for (const [name, cursor] of invalid) {
    it(`refuses ${name} with a validation problem`, () => {
      expect(() => decodeCursor(cursor)).toThrow(AppError);
    });
  }

  it('refuses an altered cursor, a cursor for other filters, and a wrong arity', () => {
    const c = encodeCursor(['user_01']);
    const body = JSON.parse(Buffer.from(c, 'base64url').toString());
    body.k = ['user_99'];
    expect(() => decodeCursor(Buffer.from(JSON.stringify(body)).toString('base64url'))).toThrow(/altered/);
    expect(() => decodeCursor(encodeCursor(['a'], { q: 'x' }), { q: 'y' })).toThrow(/other filters/);
    expect(() => decodeCursor(c, null, 2)).toThrow(/malformed/);
  });

  it('toPage uses the extra row only to tell that a next page exists', () => {
    const rows = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
    const page = toPage(
      rows,
      2,
      (r) => r.id,
      (r) => [r.id],
    );
    expect(page.data).toEqual(['a', 'b']);
    expect(decodeCursor(page.next_cursor!)).toEqual(['b']);
    expect(
      toPage(
        rows,
        3,
        (r) => r.id,
        (r) => [r.id],
      ).next_cursor,
    ).toBeNull();
  });
});
