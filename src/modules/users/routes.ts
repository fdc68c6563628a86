import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { CountedPage } from '../../lib/pagination.js';
import { IdParams } from '../../lib/schema.js';
import { CreateUserBody, ListUsersQuery, UpdateUserBody, User } from './schemas.js';
import type { UsersService } from './service.js';
import type { RouteApp } from '../../http/route-app.js';
import { locationOf } from '../../http/location.js';

export const usersRoutes: FastifyPluginAsyncTypebox<{ users: UsersService }> = async (app, { users }) => {
  listUsersRoute(app, users);
  createUserRoute(app, users);
  getUserRoute(app, users);
  updateUserRoute(app, users);
  deleteUserRoute(app, users);
};

function listUsersRoute(app: RouteApp, users: UsersService): void {
  app.get(
    '/',
    {
      config: { scope: 'users:read', action: 'user.list' },
      schema: {
        operationId: 'listUsers',
        tags: ['users'],
        summary: 'List users: search, filter, sort, count',
        querystring: ListUsersQuery,
        response: { 200: CountedPage(User, 'UserPage') },
      },
    },
    async (req) => users.list(req.query),
  );
}

function createUserRoute(app: RouteApp, users: UsersService): void {
  app.post(
    '/',
    {
      config: { scope: 'users:write', action: 'user.create', location: '/api/users/{id}' },
      schema: {
        operationId: 'createUser',
        tags: ['users'],
        summary: 'Create a user',
        body: CreateUserBody,
        response: { 201: User },
      },
    },
    async (req, reply) => {
      const user = await users.create(req.ctx, req.body);
      return reply.code(201).header('location', locationOf(req, user)).send(user);
    },
  );
}

function getUserRoute(app: RouteApp, users: UsersService): void {
  app.get(
    '/:id',
    {
      config: { scope: 'users:read', action: 'user.read' },
      schema: {
        operationId: 'getUser',
        tags: ['users'],
        summary: 'Get a user',
        params: IdParams,
        response: { 200: User },
      },
    },
    async (req) => users.get(req.params.id),
  );
}

function updateUserRoute(app: RouteApp, users: UsersService): void {
  app.put(
    '/:id',
    {
      config: { scope: 'users:write', action: 'user.update', principal: 'user' },
      schema: {
        operationId: 'updateUser',
        tags: ['users'],
        summary: 'Update the fields present',
        params: IdParams,
        body: UpdateUserBody,
        response: { 200: User },
      },
    },
    async (req) => users.update(req.ctx, req.params.id, req.body),
  );
}

function deleteUserRoute(app: RouteApp, users: UsersService): void {
  app.delete(
    '/:id',
    {
      config: { scope: 'users:write', action: 'user.delete', principal: 'user' },
      schema: {
        operationId: 'deleteUser',
        tags: ['users'],
        summary: 'Delete a user and its tokens',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }) },
      },
    },
    async (req, reply) => {
      await users.remove(req.ctx, req.params.id);
      return reply.code(204).send(null);
    },
  );
}
