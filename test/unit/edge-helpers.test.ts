import { describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/lib/pagination.js';
import { jsonDepthExceeds } from '../../src/lib/json-depth.js';
import { generateToken } from '../../src/lib/secret-token.js';
import { redactTokens, redactUrl, secretQueryParam } from '../../src/lib/url-secrets.js';

describe('jsonDepthExceeds', () => {
  it('counts objects and arrays, not brackets inside strings or after escaped quotes', () => {
    expect(jsonDepthExceeds('{"a":[1,{"b":[]}]}', 4)).toBe(false);
    expect(jsonDepthExceeds('{"a":[1,{"b":[]}]}', 3)).toBe(true);
    expect(jsonDepthExceeds(`{"a":"${'['.repeat(100)}"}`, 1)).toBe(false);
    expect(jsonDepthExceeds(`{"a":"\\"${'{'.repeat(100)}\\\\"}`, 1)).toBe(false);
    expect(jsonDepthExceeds(`{"a":"\\\\",${'['.repeat(3)}]]]}`, 3)).toBe(true);
  });

  it('takes 64 levels by default and refuses 65, whatever follows', () => {
    expect(jsonDepthExceeds(`${'['.repeat(64)}${']'.repeat(64)}`)).toBe(false);
    expect(jsonDepthExceeds('['.repeat(65))).toBe(true);
    expect(jsonDepthExceeds('"unterminated [[[[')).toBe(false);
  });
});

describe('url secrets', () => {
  const t = generateToken();
  const s = generateToken('gts');

  it('finds credentials by parameter name or by a token-shaped value', () => {
    expect(secretQueryParam({ limit: '2', access_token: 'x' })).toBe('access_token');
    expect(secretQueryParam({ Access_Token: 'x' })).toBe('Access_Token');
    expect(secretQueryParam({ q: `Bearer ${s}` })).toBe('q');
    expect(secretQueryParam({ q: ['a', t] })).toBe('q');
    expect(secretQueryParam({ limit: '2', cursor: 'abc', target: 'tok_01h2x' })).toBeUndefined();
  });

  it('does not take a cursor that happens to contain gth_ for a token', () => {
    const cursor = `AAAgth_${'A'.repeat(38)}`;
    expect(secretQueryParam({ cursor })).toBeUndefined();
    expect(secretQueryParam({ cursor: encodeCursor([12]) })).toBeUndefined();
  });

  it('redacts query values, encoded ones too, and tokens in paths and text', () => {
    expect(redactUrl(`/api/users?limit=2&access_token=${t}`)).toBe(
      '/api/users?limit=2&access_token=[redacted]',
    );
    expect(redactUrl(`/api/users?ACCESS%5FTOKEN=${encodeURIComponent(t)}&x=1`)).toBe(
      '/api/users?ACCESS_TOKEN=[redacted]&x=1',
    );
    expect(redactUrl(`/api/me?q=${t}`)).toBe('/api/me?q=[redacted]');
    expect(redactUrl(`/api/tokens/${t}`)).toBe('/api/tokens/[redacted]');
    expect(redactUrl('/api/users/%E0%A4%A?limit=1')).toBe('/api/users/%E0%A4%A?limit=1');
    expect(redactUrl('/api/users')).toBe('/api/users');
    // The OIDC callback's one-time code and state stay out of logs (they are not refused: the flow needs them).
    expect(redactUrl('/api/auth/oidc/idp_1/callback?code=abc&state=xyz&iss=https%3A%2F%2Fidp')).toBe(
      '/api/auth/oidc/idp_1/callback?code=[redacted]&state=[redacted]&iss=https%3A%2F%2Fidp',
    );
    expect(secretQueryParam({ code: 'abc', state: 'xyz' })).toBeUndefined();
    expect(redactTokens(`No route GET /api/x/${s}.`)).toBe('No route GET /api/x/[redacted].');
  });
});
