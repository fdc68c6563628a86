import { verifyTokenChecksum } from './secret-token.js';
/**
 * Credentials in URLs. A URL is written to access logs, proxy logs and browser history, so a secret in one is
 * leaked whatever the server then does: the API refuses such requests, and the logs never show the secret.
 */

/** Query parameters that carry a credential by name (OAuth's `access_token` and its usual cousins). */
const SECRET_PARAMS = new Set([
  'access_token',
  'token',
  'api_key',
  'apikey',
  'api-key',
  'bearer',
  'authorization',
  'session_token',
  'id_token',
  'refresh_token',
  'client_secret',
  'password',
  'secret',
]);

/**
 * Parameters kept out of logs but not refused: the OIDC callback's one-time authorization `code` and its
 * `state` (single use, and the code is worthless without the sealed PKCE verifier, but a log is no place for them).
 */
const LOG_ONLY_PARAMS = new Set(['code', 'state', 'session_state']);

/**
 * A Gatehouse API or session token (`gth_`/`gts_` + 38 base62) not inside a longer run of base62 characters
 * (`x_gth_…` and `a-gth_…` still count). Redaction takes every such run; a refusal takes only one whose
 * checksum holds, so a cursor that happens to contain such a run is not refused.
 */
const TOKEN_SHAPE = /(?<![0-9A-Za-z])(?:gth|gts)_[0-9A-Za-z]{38}(?![0-9A-Za-z])/g;

const REDACTED = '[redacted]';

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

function hasTokenShape(text: string): boolean {
  return [...text.matchAll(TOKEN_SHAPE)].some((m) => verifyTokenChecksum(m[0]));
}

/** True when a query parameter (name and raw or decoded value) looks like it carries a credential. */
export function isSecretParam(name: string, value: string): boolean {
  // `token[]=…` is the same parameter to most frameworks.
  return SECRET_PARAMS.has(name.replace(/\[\]$/, '').toLowerCase()) || hasTokenShape(value);
}

/** The first query parameter of a parsed query string that carries a credential, or undefined. */
export function secretQueryParam(query: unknown): string | undefined {
  if (!query || typeof query !== 'object') return undefined;
  for (const [name, value] of Object.entries(query as Record<string, unknown>)) {
    for (const v of [value].flat()) if (isSecretParam(name, typeof v === 'string' ? v : '')) return name;
  }
  return undefined;
}

/** The URL with every credential-looking query value, and any token in its path, replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const safePath = hasTokenShape(decode(path)) ? decode(path).replace(TOKEN_SHAPE, REDACTED) : path;
  if (q === -1) return safePath;
  const pairs = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = decode(eq === -1 ? pair : pair.slice(0, eq));
      const value = eq === -1 ? '' : pair.slice(eq + 1);
      if (hasTokenShape(name)) return `${REDACTED}=${REDACTED}`;
      const hidden = isSecretParam(name, decode(value)) || LOG_ONLY_PARAMS.has(name.toLowerCase());
      return hidden ? `${name}=${REDACTED}` : pair;
    });
  return `${safePath}?${pairs.join('&')}`;
}

/** Any token in free text (a log message, a problem's detail) replaced by `[redacted]`. */
export function redactTokens(text: string): string {
  return hasTokenShape(text) ? text.replace(TOKEN_SHAPE, REDACTED) : text;
}
