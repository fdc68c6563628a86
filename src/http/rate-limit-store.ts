import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import LocalStore from '@fastify/rate-limit/store/LocalStore.js';
import RedisStore from '@fastify/rate-limit/store/RedisStore.js';
import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';

export type StoreFailureMode = 'local' | 'open' | 'closed';

/** Thrown by the store when Redis fails and `store_failure` is `closed`: the request gets a 503. */
export class LimiterUnavailableError extends Error {
  constructor(cause: unknown) {
    super('rate limit store unavailable', { cause });
    this.name = 'LimiterUnavailableError';
  }
}

/**
 * A Redis client that never queues or hangs a request: commands fail at once while disconnected and after
 * `commandTimeout` when Redis is slow; reconnection goes on in the background.
 */
export function createLimiterRedis(url: string, logger: Logger): Redis {
  // Loaded only when REDIS_URL is set: a server without Redis does not carry ioredis (~25 MiB of RSS).
  const { Redis: RedisClient } = createRequire(import.meta.url)('ioredis') as typeof IORedis;
  const redis = new RedisClient(url, {
    enableOfflineQueue: false,
    commandTimeout: 100,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    lazyConnect: false,
  });
  redis.on('error', (err: Error) => logger.debug({ err: err.message }, 'redis (rate limits) error'));
  return redis;
}

type StoreDeps = { redis?: Redis; mode: () => StoreFailureMode; logger: Logger; failures: Counter };

/**
 * The plugin's store contract over its own stores: the local store alone, or Redis with the local store
 * as the fallback `store_failure: local` names. Each incident (healthy → failing) logs once.
 */
export function createLimiterStoreClass({
  redis,
  mode,
  logger,
  failures,
}: StoreDeps): FastifyRateLimitStoreCtor {
  const local = new LocalStore(false, false, 50_000);
  const shared = redis ? new RedisStore(false, false, redis, 'gatehouse:rl:') : undefined;
  let failing = false;

  const store: FastifyRateLimitStore = {
    incr(key, cb, timeWindow, max) {
      if (!shared) return local.incr(key, cb, timeWindow, max);
      shared.incr(
        key,
        (err, result) => {
          if (!err && result) {
            if (failing) logger.warn('rate limit store: Redis is back; counters are shared again');
            failing = false;
            return cb(null, result);
          }
          const how = mode();
          failures.inc({ mode: how });
          if (!failing)
            logger.error(
              { err: err?.message, store_failure: how },
              'rate limit store: Redis failed; applying store_failure',
            );
          failing = true;
          if (how === 'local') return local.incr(key, cb, timeWindow, max);
          if (how === 'open') return cb(null, { current: 1, ttl: timeWindow });
          return cb(new LimiterUnavailableError(err));
        },
        timeWindow,
        max,
      );
    },
    child() {
      return store;
    },
  };
  // The plugin constructs the store with `new`; every construction yields this one shared store.
  return function LimiterStore() {
    return store;
  } as unknown as FastifyRateLimitStoreCtor;
}
