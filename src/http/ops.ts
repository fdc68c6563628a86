import type { FastifyInstance } from 'fastify';
import { sql, type Kysely } from 'kysely';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { Type } from 'typebox';
import type { Tables } from '../db/tables.js';

export type Metrics = {
  registry: Registry;
  auditWriteFailures: Counter;
  limiterStoreFailures: Counter<'mode'>;
  /** Publishes the journal's group-commit figures (read at each scrape). */
  watchJournal(stats: () => { groups: number; units: number; largest: number; rolledBack: number }): void;
};

/** Set when the process begins to shut down: `/readyz` answers 503 and answers close their connections. */
export type Lifecycle = { draining: boolean };

/** One registry per app (tests build many apps in one process). */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_' });
  return {
    registry,
    auditWriteFailures: new Counter({
      name: 'gatehouse_audit_write_failures_total',
      help: 'Denied requests whose audit row could not be written.',
      registers: [registry],
    }),
    limiterStoreFailures: new Counter({
      name: 'gatehouse_rate_limit_store_failures_total',
      help: 'Rate-limit store (Redis) failures, by the store_failure mode applied.',
      labelNames: ['mode'],
      registers: [registry],
    }),
    watchJournal(stats) {
      const figure = (name: string, help: string, read: (s: ReturnType<typeof stats>) => number) =>
        new Gauge({
          name,
          help,
          registers: [registry],
          collect() {
            this.set(read(stats()));
          },
        });
      figure(
        'gatehouse_journal_commits_total',
        'Transactions that committed changes (groups on SQLite).',
        (s) => s.groups,
      );
      figure('gatehouse_journal_changes_total', 'Changes and audit rows committed in them.', (s) => s.units);
      figure(
        'gatehouse_journal_largest_group',
        'The most changes one transaction has committed.',
        (s) => s.largest,
      );
      figure(
        'gatehouse_journal_rolled_back_total',
        'Changes that failed inside a group and were rolled back alone while the rest committed.',
        (s) => s.rolledBack,
      );
    },
  };
}

/** Counts every answer and its latency, by route pattern and method. */
function countRequests(app: FastifyInstance, metrics: Metrics): void {
  const requests = new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'HTTP requests by route, method and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [metrics.registry],
  });
  const latency = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'HTTP request latency by route and method.',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metrics.registry],
  });
  app.addHook('onResponse', (request, reply, done) => {
    // The route pattern, never the raw URL, keeps label cardinality bounded.
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    done();
  });
}

const Health = Type.Object({ status: Type.String() }, { additionalProperties: false });

/**
 * `/healthz` (alive), `/readyz` (database reachable, not draining) and `/metrics`, outside `/api`, no token.
 * While the process drains, every answer carries `Connection: close`, so keep-alive clients move to another
 * instance instead of holding on to this one until it stops listening.
 */
export async function registerOps(
  app: FastifyInstance,
  deps: { db: Kysely<Tables>; metrics: Metrics; lifecycle: Lifecycle },
): Promise<void> {
  app.addHook('onRequest', (_request, reply, done) => {
    if (deps.lifecycle.draining) reply.header('connection', 'close');
    done();
  });
  countRequests(app, deps.metrics);

  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'getHealth',
        tags: ['ops'],
        summary: 'Liveness: the process is up',
        security: [],
        response: { 200: Health },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'getReadiness',
        tags: ['ops'],
        summary: 'Readiness: the database answers and the process is not draining',
        security: [],
        response: { 200: Health, 503: Health },
      },
    },
    async (_req, reply) => {
      // No Retry-After: this instance is going away; the load balancer should send its traffic elsewhere.
      if (deps.lifecycle.draining) return reply.code(503).send({ status: 'draining' });
      try {
        await sql`select 1`.execute(deps.db);
        return { status: 'ready' };
      } catch {
        return reply.code(503).header('retry-after', '2').send({ status: 'database unreachable' });
      }
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        operationId: 'getMetrics',
        tags: ['ops'],
        summary: 'Prometheus metrics',
        security: [],
        produces: ['text/plain'],
        response: { 200: Type.String({ description: 'Prometheus text format' }) },
      },
    },
    async (_req, reply) =>
      reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );
}
