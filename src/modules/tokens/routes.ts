import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { CountedPage } from '../../lib/pagination.js';
import { IdParams } from '../../lib/schema.js';
import { CreateTokenBody, ListTokensQuery, RotateTokenBody, Token, TokenWithSecret } from './schemas.js';
import type { TokensService } from './service.js';
import type { RouteApp } from '../../http/route-app.js';
import { locationOf } from '../../http/location.js';

export const tokensRoutes: FastifyPluginAsyncTypebox<{ tokens: TokensService }> = async (app, { tokens }) => {
  listTokensRoute(app, tokens);
  createTokenRoute(app, tokens);
  getTokenRoute(app, tokens);
  revokeTokenRoute(app, tokens);
  rotateTokenRoute(app, tokens);
};

function listTokensRoute(app: RouteApp, tokens: TokensService): void {
  app.get(
    '/',
    {
      config: { scope: 'token', action: 'token.list' },
      schema: {
        operationId: 'listTokens',
        tags: ['tokens'],
        summary: 'List tokens (your own, or all with tokens:read)',
        querystring: ListTokensQuery,
        response: { 200: CountedPage(Token, 'TokenPage') },
      },
    },
    async (req) => tokens.list(req.ctx, req.query),
  );
}

function createTokenRoute(app: RouteApp, tokens: TokensService): void {
  app.post(
    '/',
    {
      config: {
        scope: 'tokens:write',
        action: 'token.create',
        principal: 'body_user_id',
        location: '/api/tokens/{id}',
      },
      schema: {
        operationId: 'createToken',
        tags: ['tokens'],
        summary: 'Mint a token; the secret is in this answer only',
        body: CreateTokenBody,
        response: { 201: TokenWithSecret },
      },
    },
    async (req, reply) => {
      const token = await tokens.create(req.ctx, req.body);
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .header('location', locationOf(req, token))
        .send(token);
    },
  );
}

function getTokenRoute(app: RouteApp, tokens: TokensService): void {
  app.get(
    '/:id',
    {
      config: { scope: 'token', action: 'token.read' },
      schema: {
        operationId: 'getToken',
        tags: ['tokens'],
        summary: 'Get a token (never its secret)',
        params: IdParams,
        response: { 200: Token },
      },
    },
    async (req) => tokens.get(req.ctx, req.params.id),
  );
}

function revokeTokenRoute(app: RouteApp, tokens: TokensService): void {
  app.delete(
    '/:id',
    {
      config: { scope: 'tokens:write', action: 'token.revoke', principal: 'token' },
      schema: {
        operationId: 'revokeToken',
        tags: ['tokens'],
        summary: 'Revoke a token at once',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Revoked' }) },
      },
    },
    async (req, reply) => {
      await tokens.revoke(req.ctx, req.params.id);
      return reply.code(204).send(null);
    },
  );
}

function rotateTokenRoute(app: RouteApp, tokens: TokensService): void {
  app.post(
    '/:id/rotate',
    {
      config: { scope: 'tokens:write', action: 'token.rotate', principal: 'token' },
      schema: {
        operationId: 'rotateToken',
        tags: ['tokens'],
        summary: 'New secret now; the old one works for grace_seconds',
        params: IdParams,
        body: Type.Union([RotateTokenBody, Type.Null()], { description: 'Optional.' }),
        response: { 200: TokenWithSecret },
      },
    },
    async (req, reply) => {
      const token = await tokens.rotate(req.ctx, req.params.id, req.body?.grace_seconds ?? 0);
      return reply.header('cache-control', 'no-store').send(token);
    },
  );
}
