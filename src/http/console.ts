import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { AppError } from '../errors.js';

/** Paths the server answers itself; a miss under them is a 404 problem, never the console's page. */
const SERVER_PATHS = /^\/(api|docs|healthz|readyz|metrics)(\/|$|\?)/;

/**
 * Where Vite put the console: `dist/ui`, next to `dist/src` when running the build, or under the project
 * root when running from source (tests, tsx). Undefined when the console was not built.
 */
export function consoleDir(): string | undefined {
  const above = resolve(import.meta.dirname, '../..');
  const dir = basename(above) === 'dist' ? join(above, 'ui') : join(above, 'dist/ui');
  return existsSync(join(dir, 'index.html')) ? dir : undefined;
}

function wantsPage(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (SERVER_PATHS.test(request.url)) return false;
  return (request.headers.accept ?? '').includes('text/html');
}

/**
 * The console at `/`: hashed assets cached for a year, `index.html` never, and any other page navigation
 * (`/users/user_01…`) answered with `index.html` so the client router takes over. Everything else that
 * matches no route (outside `/api`, which has its own handler) is a 404 problem.
 */
export async function registerConsole(app: FastifyInstance, dir = consoleDir()): Promise<void> {
  if (dir) {
    await app.register(fastifyStatic, {
      root: dir,
      wildcard: false,
      cacheControl: false,
      // Vite wrote .br and .gz next to each asset (ui/vite.config.ts); no compression per request.
      preCompressed: true,
      setHeaders: (reply, path) => {
        reply.header(
          'cache-control',
          path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
        reply.header('vary', 'accept-encoding');
      },
    });
  }
  app.setNotFoundHandler(async (request, reply) => {
    if (dir && wantsPage(request)) return reply.header('cache-control', 'no-cache').sendFile('index.html');
    throw new AppError(
      'not_found',
      `No route ${request.method} ${request.url.split('?')[0] ?? ''}. The API is under /api; see /docs.`,
    );
  });
}
