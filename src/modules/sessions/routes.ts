import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { preHandlerAsyncHookHandler } from 'fastify';
import { Type } from 'typebox';
import { LoginBody, Me, Session } from './schemas.js';
import type { SessionsService } from './service.js';

export const authRoutes: FastifyPluginAsyncTypebox<{
  sessions: SessionsService;
  loginLimit: preHandlerAsyncHookHandler;
}> = async (app, { sessions, loginLimit }) => {
  app.post(
    '/auth/login',
    {
      config: { scope: 'public', action: 'auth.login' },
      // Limited twice: per IP in the pipeline, and per IP and username here, once the body is parsed.
      preHandler: loginLimit,
      schema: {
        operationId: 'login',
        tags: ['auth'],
        summary: 'Sign in with a password; returns a session token',
        description:
          'For an account with an active second factor the answer is 401 `mfa_required` with `mfa_token` and `methods`: finish at POST /api/auth/login/mfa.',
        security: [],
        body: LoginBody,
        response: { 200: Session },
      },
    },
    async (req, reply) =>
      reply.header('cache-control', 'no-store').send(await sessions.login(req.ctx, req.body)),
  );

  app.post(
    '/auth/logout',
    {
      config: { scope: 'session', action: 'auth.logout', beforeMfa: true },
      schema: {
        operationId: 'logout',
        tags: ['auth'],
        summary: 'End this session',
        response: { 204: Type.Null({ description: 'Signed out' }) },
      },
    },
    async (req, reply) => {
      await sessions.logout(req.ctx);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me',
    {
      config: { scope: 'token', action: 'auth.me', beforeMfa: true },
      schema: {
        operationId: 'getMe',
        tags: ['auth'],
        summary: 'Who you are, and what this token may do',
        response: { 200: Me },
      },
    },
    async (req) => sessions.me(req.ctx),
  );
};
