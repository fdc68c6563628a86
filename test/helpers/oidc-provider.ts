import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';
import Provider from 'oidc-provider';

/** What the test provider says of an account; tests change it between sign-ins. */
export type TestAccount = {
  sub: string;
  email?: string;
  email_verified?: boolean;
  preferred_username?: string;
  name?: string;
  groups?: string[];
};

/** How the next token answer is spoiled (then reset): each is a sign-in the relying party must refuse. */
export type Tamper = 'signature' | 'expired' | 'issuer' | null;

export type TestProvider = {
  issuer: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<string, TestAccount>;
  /** The account the next interaction signs in. */
  signInAs: (sub: string) => void;
  tamperNext: (how: Tamper) => void;
  /** How many times the discovery document was read. */
  discoveries: () => number;
  /** (Re)creates the provider with one client allowed these redirect URIs (the relying party's callbacks). */
  setRedirectUris: (uris: string[]) => void;
  close(): Promise<void>;
};

/**
 * A real OpenID provider (`oidc-provider`), in-process on 127.0.0.1. Its login and consent interaction is
 * finished programmatically for the account chosen with `signInAs`. `redirectUris`: the relying party's.
 */
export async function startTestProvider(): Promise<TestProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const accounts = new Map<string, TestAccount>();
  let current = '';
  let tamper: Tamper = null;
  const clientId = 'gatehouse';
  const clientSecret = 'test-client-secret-0123456789abcdef';

  const make = (redirectUris: string[]) => {
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: redirectUris,
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      jwks: { keys: [jwk as jose.JWK & { kty: 'RSA' }] },
      claims: {
        openid: ['sub'],
        email: ['email', 'email_verified'],
        profile: ['preferred_username', 'name'],
        groups: ['groups'],
      },
      pkce: { required: () => true },
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      findAccount: (_ctx, sub) => {
        const account = accounts.get(sub);
        if (!account) return undefined;
        return { accountId: sub, claims: () => ({ ...accounts.get(sub)!, sub }) };
      },
      conformIdTokenClaims: false,
      cookies: { keys: ['test-cookie-key-0123456789'] },
    });
    provider.proxy = false;

    // Spoils the ID token of the next token answer when asked.
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.path !== '/token' || tamper === null || ctx.status !== 200) return;
      const how = tamper;
      tamper = null;
      const body = ctx.body as { id_token: string };
      const [h, p, s] = body.id_token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      if (how === 'signature') {
        // The same subject, with a group it does not have: only the signature tells.
        claims.groups = ['platform-admins', 'root'];
        body.id_token = [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
        return;
      }
      if (how === 'expired')
        Object.assign(claims, { iat: (claims.iat as number) - 7200, exp: (claims.iat as number) - 3600 });
      if (how === 'issuer') claims.iss = 'http://127.0.0.1:1/not-the-issuer';
      body.id_token = await new jose.SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
        .sign(privateKey);
    });
    return provider;
  };

  let provider = make([]);
  let callback = provider.callback();
  let discoveries = 0;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/.well-known/openid-configuration')) discoveries++;
    if (req.url?.startsWith('/interaction/')) {
      void finishInteraction(provider, req, res, () => current);
      return;
    }
    callback(req, res);
  });

  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    signInAs: (sub) => (current = sub),
    tamperNext: (how) => (tamper = how),
    discoveries: () => discoveries,
    setRedirectUris: (uris) => {
      provider = make(uris);
      callback = provider.callback();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Signs the chosen account in and grants what the client asked for, as a person clicking through would. */
async function finishInteraction(
  provider: Provider,
  req: IncomingMessage,
  res: ServerResponse,
  account: () => string,
): Promise<void> {
  try {
    const details = await provider.interactionDetails(req, res);
    const accountId = account();
    const grant = new provider.Grant({ accountId, clientId: details.params.client_id as string });
    grant.addOIDCScope(String(details.params.scope));
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  } catch (err) {
    res.statusCode = 500;
    res.end(String(err));
  }
}

/** A minimal cookie jar for driving the provider's redirects with fetch. */
export function cookieJar() {
  const cookies = new Map<string, string>();
  return {
    header: () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    store(res: Response) {
      for (const line of res.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const eq = pair!.indexOf('=');
        cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1));
      }
    },
  };
}

/**
 * Follows the provider's redirects from an authorization URL (through the interaction) until it points back
 * at the relying party (`stopAt`); returns that URL (the callback with `code` and `state`).
 */
export async function followProvider(start: string, stopAt: string): Promise<URL> {
  const jar = cookieJar();
  let url = start;
  for (let i = 0; i < 10; i++) {
    if (url.startsWith(stopAt)) return new URL(url);
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.store(res);
    const location = res.headers.get('location');
    if (!location) throw new Error(`provider answered ${res.status} at ${url}: ${await res.text()}`);
    url = new URL(location, url).toString();
  }
  throw new Error('too many redirects at the provider');
}
