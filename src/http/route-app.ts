import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

/** The Fastify instance a module's routes plugin receives, passed on to the functions that each register one route. */
export type RouteApp = Parameters<FastifyPluginAsyncTypebox>[0];
