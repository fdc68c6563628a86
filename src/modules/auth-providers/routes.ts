import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { AppError } from '../../errors.js';
import { Type } from 'typebox';
import { Page } from '../../lib/pagination.js';
import { IdParams } from '../../lib/schema.js';
import { Session } from '../sessions/schemas.js';
import {
  AuthMethods,
  AuthProvider,
  CreateAuthProviderBody,
  ListAuthProvidersQuery,
  SsoCallbackQuery,
  SsoExchangeBody,
  SsoStartQuery,
  UpdateAuthProviderBody,
} from './schemas.js';
import type { AuthProvidersService } from './module.js';
import { locationOf } from '../../http/location.js';

type Options = { providers: AuthProvidersService; origin: (req: FastifyRequest) => string };
const Redirect = Type.Null({ description: 'A redirect: see `Location`.' });

/** /api/auth/providers, GET / and GET /:id: auth:read. */
export const providerReadRoutes: FastifyPluginAsyncTypebox<Options> = async (app, { providers }) => {
  app.get(
    '/',
    {
      config: { scope: 'auth:read', action: 'auth_provider.list' },
      schema: {
        operationId: 'listAuthProviders',
        tags: ['auth'],
        summary: 'List identity providers (never their client secrets)',
        querystring: ListAuthProvidersQuery,
        response: { 200: Page(AuthProvider, 'AuthProviderPage') },
      },
    },
    async (req) => providers.list(req.query),
  );
  app.get(
    '/:id',
    {
      config: { scope: 'auth:read', action: 'auth_provider.read' },
      schema: {
        operationId: 'getAuthProvider',
        tags: ['auth'],
        summary: 'One identity provider',
        params: IdParams,
        response: { 200: AuthProvider },
      },
    },
    async (req) => providers.get(req.params.id),
  );
};

/** /api/auth/providers, POST /, PUT /:id and DELETE /:id: auth:write. */
export const providerWriteRoutes: FastifyPluginAsyncTypebox<Options> = async (app, { providers }) => {
  app.post(
    '/',
    {
      config: {
        scope: 'auth:write',
        action: 'auth_provider.create',
        location: '/api/auth/providers/{id}',
      },
      schema: {
        operationId: 'createAuthProvider',
        tags: ['auth'],
        summary: 'Add an OIDC identity provider; the client secret is stored encrypted and never shown',
        body: CreateAuthProviderBody,
        response: { 201: AuthProvider },
      },
    },
    async (req, reply) => {
      const provider = await providers.create(req.ctx, req.body);
      return reply.code(201).header('location', locationOf(req, provider)).send(provider);
    },
  );
  app.put(
    '/:id',
    {
      config: { scope: 'auth:write', action: 'auth_provider.update' },
      schema: {
        operationId: 'updateAuthProvider',
        tags: ['auth'],
        summary: 'Change the fields present; without client_secret the stored one is kept',
        params: IdParams,
        body: UpdateAuthProviderBody,
        response: { 200: AuthProvider },
      },
    },
    async (req) => providers.update(req.ctx, req.params.id, req.body),
  );
  app.delete(
    '/:id',
    {
      config: { scope: 'auth:write', action: 'auth_provider.delete' },
      schema: {
        operationId: 'deleteAuthProvider',
        tags: ['auth'],
        summary: 'Delete an identity provider (its users stay, unable to sign in through it)',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }) },
      },
    },
    async (req, reply) => {
      await providers.remove(req.ctx, req.params.id);
      return reply.code(204).send(null);
    },
  );
};

type SsoOptions = Options & { ticketLimit: preHandlerAsyncHookHandler };

/** The public single sign-on routes: the browser's redirect flow, the ticket exchange, the sign-in methods. */
export const ssoRoutes: FastifyPluginAsyncTypebox<SsoOptions> = async (app, options) => {
  await app.register(ssoRedirectRoutes, options);
  await app.register(ssoSignInRoutes, options);
};

/** GET /auth/methods and POST /auth/oidc/exchange: what the sign-in page calls. */
const ssoSignInRoutes: FastifyPluginAsyncTypebox<SsoOptions> = async (app, { providers, ticketLimit }) => {
  app.get(
    '/auth/methods',
    {
      config: { scope: 'public', action: 'auth.methods' },
      schema: {
        operationId: 'getAuthMethods',
        tags: ['auth'],
        summary: 'How one may sign in: passwords (unless auth.sso_only) and the enabled identity providers',
        security: [],
        response: { 200: AuthMethods },
      },
    },
    async () => providers.methods(),
  );
  app.post(
    '/auth/oidc/exchange',
    {
      config: { scope: 'public', action: 'auth.sso.exchange' },
      preHandler: ticketLimit,
      schema: {
        operationId: 'exchangeSsoTicket',
        tags: ['auth'],
        summary: 'Trade the one-time ticket of a single sign-on for a session, as a password sign-in answers',
        security: [],
        body: SsoExchangeBody,
        response: { 200: Session },
      },
    },
    async (req, reply) =>
      reply.header('cache-control', 'no-store').send(await providers.exchange(req.ctx, req.body.ticket)),
  );
};

/** Refusals of the browser round trip that go back to the sign-in page, with the reason, for a browser. */
const BROWSER_REFUSALS = new Set(['auth.sso_denied', 'auth.sso_state_invalid', 'not_found']);

/**
 * Runs a step of the browser round trip. A person's browser (it accepts HTML) that is refused goes back to the
 * console's sign-in page with the problem's code in the fragment (`/login#sso_error=auth.sso_denied`, never
 * sent to a server; a code, not free text, so a crafted link cannot put words on the page); any other caller
 * gets the problem itself. The refusal and its reason are audited either way (by the service, before it throws).
 */
async function forBrowser(req: FastifyRequest, reply: FastifyReply, step: () => Promise<string>) {
  reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
  let target: string;
  try {
    target = await step();
  } catch (err) {
    const browser = /\btext\/html\b/.test(req.headers.accept ?? '');
    if (!(err instanceof AppError) || !browser || !BROWSER_REFUSALS.has(err.code)) throw err;
    target = `/login#sso_error=${err.code}`;
  }
  return reply.redirect(target, 302);
}

/** GET /auth/oidc/:id/start and /callback: the browser's round trip through the provider. */
const ssoRedirectRoutes: FastifyPluginAsyncTypebox<SsoOptions> = async (app, { providers, origin }) => {
  app.get(
    '/auth/oidc/:id/start',
    {
      config: { scope: 'public', action: 'auth.sso.start' },
      schema: {
        operationId: 'startSso',
        tags: ['auth'],
        summary: 'Begin single sign-on: 302 to the identity provider (PKCE, state, nonce)',
        security: [],
        params: IdParams,
        querystring: SsoStartQuery,
        response: { 302: Redirect },
      },
    },
    async (req, reply) =>
      forBrowser(req, reply, () => providers.start(req.ctx, req.params.id, req.query.return_to, origin(req))),
  );
  app.get(
    '/auth/oidc/:id/callback',
    {
      config: { scope: 'public', action: 'auth.sso.login' },
      schema: {
        operationId: 'ssoCallback',
        tags: ['auth'],
        summary: 'Where the identity provider sends the browser back: 302 to return_to#sso=<one-time ticket>',
        security: [],
        params: IdParams,
        querystring: SsoCallbackQuery,
        response: { 302: Redirect },
      },
    },
    async (req, reply) => {
      const q = req.url.indexOf('?');
      const search = q >= 0 ? req.url.slice(q) : '';
      return forBrowser(req, reply, () => providers.callback(req.ctx, req.params.id, req.query, search));
    },
  );
};
