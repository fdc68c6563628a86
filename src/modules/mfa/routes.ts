import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { IdParams } from '../../lib/schema.js';
import { Session } from '../sessions/schemas.js';
import {
  ConfirmTotpBody,
  EnrolTotpBody,
  FactorParams,
  LoginMfaBody,
  LoginMfaOptionsBody,
  MfaOverview,
  PasskeyRegistered,
  RecoveryCodes,
  RegisterPasskeyBody,
  TotpEnrolment,
  WebAuthnOptions,
} from './schemas.js';
import type { MfaService } from './service.js';
import type { MfaLogin } from './service-login.js';

/**
 * The origin this request came to, for passkeys when `auth.public_url` is unset: the browser's Origin header
 * when it names the same host as the Host header (so the scheme is right behind a TLS proxy), else the Host.
 */
function requestOrigin(req: FastifyRequest): string {
  const origin = req.headers.origin;
  if (typeof origin === 'string' && URL.canParse(origin) && new URL(origin).host === req.host) return origin;
  return `${req.protocol}://${req.host}`;
}

type Deps = { mfa: MfaService; login: MfaLogin };
type OwnAction =
  'auth.mfa.read' | 'auth.mfa.enrol' | 'auth.mfa.confirm' | 'auth.mfa.remove' | 'auth.mfa.recovery_codes';
/** A route of the person's own factors: a session only, reachable before a required factor is enrolled. */
const own = (action: OwnAction) => ({ scope: 'session', action, beforeMfa: true }) as const;
const noStore = { 'cache-control': 'no-store' };

/** /api/me/mfa…: a person's own factors, with its session (never an API token). */
export const ownMfaRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, { mfa }) => {
  app.get(
    '/me/mfa',
    {
      config: own('auth.mfa.read'),
      schema: {
        operationId: 'listMyMfa',
        tags: ['mfa'],
        summary: 'Your second factors and recovery codes left',
        response: { 200: MfaOverview },
      },
    },
    async (req) => mfa.list(req.ctx),
  );
  app.delete(
    '/me/mfa/:id',
    {
      config: own('auth.mfa.remove'),
      schema: {
        operationId: 'removeMyMfa',
        tags: ['mfa'],
        summary: 'Remove one of your factors',
        params: FactorParams,
        response: { 204: Type.Null({ description: 'Removed' }) },
      },
    },
    async (req, reply) => {
      await mfa.remove(req.ctx, req.params.id);
      return reply.code(204).send(null);
    },
  );
};

/** Enrolling an authenticator app, and replacing recovery codes. */
export const totpRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, { mfa }) => {
  app.post(
    '/me/mfa/totp',
    {
      config: own('auth.mfa.enrol'),
      schema: {
        operationId: 'enrolTotp',
        tags: ['mfa'],
        summary: 'Start enrolling an authenticator app (seed shown once)',
        body: EnrolTotpBody,
        response: { 201: TotpEnrolment },
      },
    },
    async (req, reply) =>
      reply
        .code(201)
        .headers(noStore)
        .send(await mfa.enrolTotp(req.ctx, req.body)),
  );
  app.post(
    '/me/mfa/totp/:id/confirm',
    {
      config: own('auth.mfa.confirm'),
      schema: {
        operationId: 'confirmTotp',
        tags: ['mfa'],
        summary: 'Activate a TOTP factor with a first code',
        params: FactorParams,
        body: ConfirmTotpBody,
        response: { 200: RecoveryCodes },
      },
    },
    async (req, reply) =>
      reply.headers(noStore).send(await mfa.confirmTotp(req.ctx, req.params.id, req.body)),
  );
  app.post(
    '/me/mfa/recovery-codes',
    {
      config: own('auth.mfa.recovery_codes'),
      schema: {
        operationId: 'regenerateRecoveryCodes',
        tags: ['mfa'],
        summary: 'Replace your recovery codes (shown once)',
        response: { 200: RecoveryCodes },
      },
    },
    async (req, reply) => reply.headers(noStore).send(await mfa.regenerateCodes(req.ctx)),
  );
};

/** Registering a passkey: options, then the authenticator's answer. */
export const passkeyRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, { mfa }) => {
  app.post(
    '/me/mfa/webauthn/register/options',
    {
      config: own('auth.mfa.enrol'),
      schema: {
        operationId: 'passkeyRegistrationOptions',
        tags: ['mfa'],
        summary: 'Options for navigator.credentials.create()',
        response: { 200: WebAuthnOptions },
      },
    },
    async (req, reply) => reply.headers(noStore).send(await mfa.passkeyOptions(req.ctx, requestOrigin(req))),
  );
  app.post(
    '/me/mfa/webauthn/register/verify',
    {
      config: own('auth.mfa.confirm'),
      schema: {
        operationId: 'registerPasskey',
        tags: ['mfa'],
        summary: 'Store a passkey from its registration response',
        body: RegisterPasskeyBody,
        response: { 201: PasskeyRegistered },
      },
    },
    async (req, reply) =>
      reply
        .code(201)
        .headers(noStore)
        .send(await mfa.registerPasskey(req.ctx, requestOrigin(req), req.body)),
  );
};

/** DELETE /api/users/{id}/mfa: an admin removes another user's factors. */
export const resetMfaRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, { mfa }) => {
  app.delete(
    '/users/:id/mfa',
    {
      config: { scope: 'users:write', action: 'auth.mfa.reset', principal: 'user' },
      schema: {
        operationId: 'resetUserMfa',
        tags: ['mfa'],
        summary: 'Remove every factor and recovery code of another user',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Reset' }) },
      },
    },
    async (req, reply) => {
      await mfa.reset(req.ctx, req.params.id);
      return reply.code(204).send(null);
    },
  );
};

/** The second sign-in step, public: it carries the mfa_token of the first. */
export const loginMfaRoutes: FastifyPluginAsyncTypebox<Deps> = async (app, { login }) => {
  app.post(
    '/auth/login/mfa',
    {
      config: { scope: 'public', action: 'auth.login' },
      schema: {
        operationId: 'loginMfa',
        tags: ['auth'],
        summary: 'Finish a sign-in with a second factor; returns a session token',
        security: [],
        body: LoginMfaBody,
        response: { 200: Session },
      },
    },
    async (req, reply) =>
      reply.headers(noStore).send(await login.complete(req.ctx, requestOrigin(req), req.body)),
  );
  app.post(
    '/auth/login/mfa/webauthn/options',
    {
      config: { scope: 'public', action: 'auth.mfa.challenge' },
      schema: {
        operationId: 'loginMfaPasskeyOptions',
        tags: ['auth'],
        summary: 'Options for navigator.credentials.get() in the second sign-in step',
        security: [],
        body: LoginMfaOptionsBody,
        response: { 200: WebAuthnOptions },
      },
    },
    async (req, reply) =>
      reply.headers(noStore).send(await login.passkeyOptions(req.ctx, requestOrigin(req), req.body)),
  );
};
