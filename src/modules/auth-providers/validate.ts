import { AppError, type FieldError } from '../../errors.js';
import { checkTargetUrl, isLoopbackHost } from '../../lib/ssrf-guard.js';
import type { RoleRule } from './schemas.js';

function issuerError(message: string): AppError {
  return new AppError('validation_failed', message, {
    errors: [{ in: 'body', pointer: '/issuer', message }],
  });
}

/**
 * An issuer as saved and before every use: an absolute URL without credentials, query or fragment; https, or
 * http on loopback while `webhooks.allow_private_targets` is on; its host passes the SSRF guard unless private
 * targets are allowed. Throws `validation_failed` at `/issuer`.
 */
export async function checkIssuer(raw: string, allowPrivate: boolean): Promise<string> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw issuerError('must be an absolute URL');
  }
  if (url.search || url.hash) throw issuerError('must not carry a query or a fragment');
  if (url.protocol === 'http:') {
    if (!allowPrivate || !isLoopbackHost(url.hostname))
      throw issuerError('must use https (http only on loopback, with webhooks.allow_private_targets)');
  } else if (url.protocol !== 'https:') {
    throw issuerError('must use https');
  }
  try {
    await checkTargetUrl(raw, allowPrivate);
  } catch (err) {
    if (err instanceof AppError) throw issuerError(err.detail ?? err.title);
    throw err;
  }
  return raw;
}

/** The role names a provider's fields use, each with the JSON pointer it sits at. */
export function roleNamesOf(fields: {
  role_mapping?: RoleRule[] | undefined;
  default_roles?: string[] | undefined;
}): { name: string; pointer: string }[] {
  return [
    ...(fields.role_mapping ?? []).map((r, i) => ({ name: r.role, pointer: `/role_mapping/${i}/role` })),
    ...(fields.default_roles ?? []).map((name, i) => ({ name, pointer: `/default_roles/${i}` })),
  ];
}

/** 422 naming every role that does not exist. */
export function assertRolesExist(used: { name: string; pointer: string }[], existing: Set<string>): void {
  const errors: FieldError[] = used
    .filter((u) => !existing.has(u.name))
    .map((u) => ({ in: 'body', pointer: u.pointer, message: `no role is named "${u.name}"` }));
  if (errors.length > 0)
    throw new AppError('unprocessable', `Unknown role: ${errors[0]?.message ?? ''}.`, { errors });
}

/** Email domains compared as lower-case, without a trailing dot. */
export function normalizeDomains(domains: string[] | null | undefined): string[] | null | undefined {
  return domains?.map((d) => d.toLowerCase().replace(/\.$/, ''));
}

/** A same-origin path to come back to after sign-in: starts with one `/`, no scheme, no backslash. */
export function checkReturnTo(raw: string | undefined): string {
  const value = raw ?? '/login';
  const bad =
    !value.startsWith('/') ||
    value.startsWith('//') ||
    value.includes('\\') ||
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    /[\u0000-\u001f\u007f]/.test(value) ||
    value.includes('#');
  if (bad)
    throw new AppError('validation_failed', 'return_to must be a path on this server, such as /login.', {
      errors: [{ in: 'query', pointer: '/return_to', message: 'must be a same-origin path starting with /' }],
    });
  const url = new URL(value, 'http://gatehouse.invalid');
  if (url.origin !== 'http://gatehouse.invalid')
    throw new AppError('validation_failed', 'return_to must be a path on this server.', {
      errors: [{ in: 'query', pointer: '/return_to', message: 'must be a same-origin path' }],
    });
  return value;
}
