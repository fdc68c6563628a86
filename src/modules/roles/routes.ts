import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { CountedPage } from '../../lib/pagination.js';
import { IdParams } from '../../lib/schema.js';
import { CreateRoleBody, ListRolesQuery, Member, Role, UpdateRoleBody, UserRoleParams } from './schemas.js';
import type { RolesService } from './service.js';
import type { RouteApp } from '../../http/route-app.js';
import { locationOf } from '../../http/location.js';

const NoContent = { 204: Type.Null({ description: 'Done' }) };

export const rolesRoutes: FastifyPluginAsyncTypebox<{ roles: RolesService }> = async (app, { roles }) => {
  listRolesRoute(app, roles);
  createRoleRoute(app, roles);
  getRoleRoute(app, roles);
  updateRoleRoute(app, roles);
  deleteRoleRoute(app, roles);
  listRoleMembersRoute(app, roles);
};

function listRolesRoute(app: RouteApp, roles: RolesService): void {
  app.get(
    '/',
    {
      config: { scope: 'roles:read', action: 'role.list' },
      schema: {
        operationId: 'listRoles',
        tags: ['roles'],
        summary: 'List roles',
        querystring: ListRolesQuery,
        response: { 200: CountedPage(Role, 'RolePage') },
      },
    },
    async (req) => roles.list(req.query),
  );
}

function createRoleRoute(app: RouteApp, roles: RolesService): void {
  app.post(
    '/',
    {
      config: { scope: 'roles:write', action: 'role.create', location: '/api/roles/{id}' },
      schema: {
        operationId: 'createRole',
        tags: ['roles'],
        summary: 'Create a role (only with permissions you hold)',
        body: CreateRoleBody,
        response: { 201: Role },
      },
    },
    async (req, reply) => {
      const role = await roles.create(req.ctx, req.body);
      return reply.code(201).header('location', locationOf(req, role)).send(role);
    },
  );
}

function getRoleRoute(app: RouteApp, roles: RolesService): void {
  app.get(
    '/:id',
    {
      config: { scope: 'roles:read', action: 'role.read' },
      schema: {
        operationId: 'getRole',
        tags: ['roles'],
        summary: 'Get a role',
        params: IdParams,
        response: { 200: Role },
      },
    },
    async (req) => roles.get(req.params.id),
  );
}

function updateRoleRoute(app: RouteApp, roles: RolesService): void {
  app.put(
    '/:id',
    {
      config: { scope: 'roles:write', action: 'role.update' },
      schema: {
        operationId: 'updateRole',
        tags: ['roles'],
        summary: 'Update the fields present',
        params: IdParams,
        body: UpdateRoleBody,
        response: { 200: Role },
      },
    },
    async (req) => roles.update(req.ctx, req.params.id, req.body),
  );
}

function deleteRoleRoute(app: RouteApp, roles: RolesService): void {
  app.delete(
    '/:id',
    {
      config: { scope: 'roles:write', action: 'role.delete' },
      schema: {
        operationId: 'deleteRole',
        tags: ['roles'],
        summary: 'Delete a role',
        params: IdParams,
        response: NoContent,
      },
    },
    async (req, reply) => {
      await roles.remove(req.ctx, req.params.id);
      return reply.code(204).send(null);
    },
  );
}

function listRoleMembersRoute(app: RouteApp, roles: RolesService): void {
  app.get(
    '/:id/members',
    {
      config: { scope: 'roles:read', action: 'role.list_members' },
      schema: {
        operationId: 'listRoleMembers',
        tags: ['roles'],
        summary: 'Users holding a role',
        params: IdParams,
        querystring: ListRolesQuery,
        response: { 200: CountedPage(Member, 'RoleMemberPage') },
      },
    },
    async (req) => roles.members(req.params.id, req.query),
  );
}

/** `/api/users/{id}/roles`: a user's roles, and assigning or taking one (both idempotent). */
export const userRolesRoutes: FastifyPluginAsyncTypebox<{ roles: RolesService }> = async (app, { roles }) => {
  listUserRolesRoute(app, roles);
  assignUserRoleRoute(app, roles);
  unassignUserRoleRoute(app, roles);
};

function listUserRolesRoute(app: RouteApp, roles: RolesService): void {
  app.get(
    '/:id/roles',
    {
      config: { scope: 'roles:read', action: 'role.list_of_user' },
      schema: {
        operationId: 'listUserRoles',
        tags: ['roles'],
        summary: 'The roles of a user',
        params: IdParams,
        querystring: ListRolesQuery,
        response: { 200: CountedPage(Role, 'RolePage') },
      },
    },
    async (req) => roles.listOfUser(req.params.id, req.query),
  );
}

function assignUserRoleRoute(app: RouteApp, roles: RolesService): void {
  app.put(
    '/:id/roles/:roleId',
    {
      config: { scope: 'roles:write', action: 'role.assign', principal: 'user' },
      schema: {
        operationId: 'assignUserRole',
        tags: ['roles'],
        summary: 'Give a user a role (only one whose permissions you hold)',
        params: UserRoleParams,
        response: NoContent,
      },
    },
    async (req, reply) => {
      await roles.assign(req.ctx, req.params.id, req.params.roleId);
      return reply.code(204).send(null);
    },
  );
}

function unassignUserRoleRoute(app: RouteApp, roles: RolesService): void {
  app.delete(
    '/:id/roles/:roleId',
    {
      config: { scope: 'roles:write', action: 'role.unassign', principal: 'user' },
      schema: {
        operationId: 'unassignUserRole',
        tags: ['roles'],
        summary: 'Take a role from a user',
        params: UserRoleParams,
        response: NoContent,
      },
    },
    async (req, reply) => {
      await roles.unassign(req.ctx, req.params.id, req.params.roleId);
      return reply.code(204).send(null);
    },
  );
}
