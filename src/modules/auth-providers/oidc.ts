import * as client from 'openid-client';
import { AppError } from '../../errors.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { AuthProvider } from './schemas.js';
import { checkIssuer } from './validate.js';

/** Why a sign-in was refused: the audit row's detail and the problem's. */
export class SsoDenied extends Error {}

/** What the OIDC calls need: the SSRF-guarded fetch, whether private targets are allowed, the sealed secret. */
export type OidcDeps = {
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  allowPrivate: () => boolean;
  secrets: SecretBox;
  sealedSecret: (id: string) => Promise<string | undefined>;
  secretContext: (id: string) => string;
};

/** Seconds any one call to a provider may take. */
const TIMEOUT_S = 10;

/**
 * How long a provider's discovered configuration (and with it the keys openid-client fetched for it) is reused:
 * a sign-in then costs the token and userinfo calls only. A change to the provider (issuer, client, secret)
 * is a new entry at once; a failed discovery is never kept.
 */
const DISCOVERY_TTL_MS = 5 * 60_000;
const MAX_CACHED = 200;
type Discovered = Map<string, { config: client.Configuration; until: number }>;
const discovered = new WeakMap<OidcDeps, Discovered>();

function cacheOf(deps: OidcDeps): Discovered {
  let cache = discovered.get(deps);
  if (!cache) {
    cache = new Map() as Discovered;
    discovered.set(deps, cache);
  }
  return cache;
}

/**
 * openid-client's configuration for a provider, by discovery. The issuer is checked again (https, or http on
 * loopback with private targets allowed; the SSRF guard) and every request goes through the guarded
 * dispatcher (`fetch`), so a provider whose discovery document points elsewhere is checked there too.
 * Throws `SsoDenied`.
 */
export async function discover(deps: OidcDeps, provider: AuthProvider): Promise<client.Configuration> {
  try {
    await checkIssuer(provider.issuer, deps.allowPrivate());
  } catch (err) {
    throw new SsoDenied(
      `the issuer is refused: ${err instanceof AppError ? (err.detail ?? err.title) : 'invalid'}`,
    );
  }
  const sealed = await deps.sealedSecret(provider.id);
  if (sealed === undefined) throw new SsoDenied('the provider no longer exists');
  let secret: string;
  try {
    secret = deps.secrets.open(sealed, deps.secretContext(provider.id));
  } catch {
    throw new SsoDenied("the client secret does not open with this server's key: set it again with PUT");
  }
  const cache = cacheOf(deps);
  const key = [provider.id, provider.issuer, provider.client_id, provider.updated_at, sealed].join('\n');
  const hit = cache.get(key);
  if (hit && hit.until > Date.now()) return hit.config;
  const config = await discoverAnew(deps, provider, secret);
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
  cache.set(key, { config, until: Date.now() + DISCOVERY_TTL_MS });
  return config;
}

/** openid-client's discovery through the guarded fetch, with ID-token signatures checked. Throws `SsoDenied`. */
async function discoverAnew(
  deps: OidcDeps,
  provider: AuthProvider,
  secret: string,
): Promise<client.Configuration> {
  const insecure = new URL(provider.issuer).protocol === 'http:';
  try {
    return await client.discovery(
      new URL(provider.issuer),
      provider.client_id,
      { client_secret: secret },
      client.ClientSecretBasic(secret),
      {
        [client.customFetch]: deps.fetch,
        // The ID token's signature is checked against the provider's keys (jwks_uri) even though it came
        // straight from the token endpoint. http only for a loopback issuer with private targets allowed
        // (checkIssuer): local setups and tests.
        execute: [
          client.enableNonRepudiationChecks,
          // eslint-disable-next-line @typescript-eslint/no-deprecated -- deprecated only to stand out, as it does here
          ...(insecure ? [client.allowInsecureRequests] : []),
        ],
        timeout: TIMEOUT_S,
      },
    );
  } catch (err) {
    throw new SsoDenied(`discovery failed: ${describe(err)}`);
  }
}

/** A short, caller-safe description of an openid-client failure (its code and message, no secrets). */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return 'unknown error';
  const code = (err as { code?: unknown }).code;
  const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
  return `${typeof code === 'string' ? `${code}: ` : ''}${err.message}${cause}`.slice(0, 300);
}

/** The authorization request: code flow with PKCE S256, state and nonce. */
export async function authorizationUrl(
  config: client.Configuration,
  params: { redirectUri: string; scopes: string[]; state: string; nonce: string; verifier: string },
): Promise<string> {
  return client
    .buildAuthorizationUrl(config, {
      redirect_uri: params.redirectUri,
      scope: params.scopes.join(' '),
      state: params.state,
      nonce: params.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(params.verifier),
      code_challenge_method: 'S256',
    })
    .toString();
}

/**
 * The code exchange and its checks (state, PKCE, the ID token's signature, issuer, audience, expiry and nonce),
 * then userinfo for the same subject: the ID token's claims merged with userinfo's. Throws `SsoDenied`.
 */
export async function redeem(
  config: client.Configuration,
  callbackUrl: URL,
  checks: { state: string; nonce: string; verifier: string },
): Promise<{ sub: string; claims: Record<string, unknown> }> {
  try {
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: checks.verifier,
      expectedState: checks.state,
      expectedNonce: checks.nonce,
      idTokenExpected: true,
    });
    const idClaims = tokens.claims();
    if (!idClaims) throw new SsoDenied('the provider sent no ID token');
    const info = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
    return { sub: idClaims.sub, claims: { ...idClaims, ...info } };
  } catch (err) {
    if (err instanceof SsoDenied) throw err;
    throw new SsoDenied(`token validation failed: ${describe(err)}`);
  }
}

export const randomState = client.randomState;
export const randomNonce = client.randomNonce;
export const randomVerifier = client.randomPKCECodeVerifier;
