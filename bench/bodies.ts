/**
 * Issue #16, finding 9: what a deeply nested JSON body costs the server. In one process, over a temporary
 * SQLite database, `app.inject` sends each body `--n` times and the table gives the CPU time per request
 * (`process.cpuUsage`, user + system), against a baseline in the same run: a flat 1 MiB body that the schema
 * refuses (the cheapest large body there is). For reference it also times `JSON.parse` of the nested body,
 * which is what the server paid for it before the depth check. `npx tsx bench/bodies.ts [--n 60]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app.js';
import { bootstrapAdmin } from '../src/bootstrap.js';
import { createDb } from '../src/db/create-db.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { defaultEnv } from '../src/env/load.js';
import { createFakeClock } from '../src/lib/clock.js';
import { createIds } from '../src/lib/ids.js';
import { createLogger } from '../src/lib/logger.js';
import { systemCtx } from '../src/lib/request-ctx.js';

const n = Number(process.argv[process.argv.indexOf('--n') + 1] || 60);
const MiB = 1024 * 1024;

/** CPU milliseconds per call of `fn`, over `n` calls after 3 unmeasured ones. */
async function cpuPerCall(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / n;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-bodies-'));
  const logger = createLogger('silent', false);
  const database = createDb(`sqlite://${join(dir, 'gatehouse.db')}`, logger);
  try {
    await migrateToLatest(database.db);
    const built = await buildApp({
      env: defaultEnv({ DATA_DIR: dir }),
      database,
      logger,
      clock: createFakeClock(Date.now()),
      ids: createIds(),
    });
    await built.app.ready();
    const boot = await bootstrapAdmin(built.services);
    if (!boot) throw new Error('database not empty');
    const generous = { max: 1_000_000, window_s: 60 };
    await built.services.config.patch(
      systemCtx('bench'),
      { rate_limits: { default: generous, anonymous: generous, login: generous } },
      undefined,
      false,
    );

    const depth = (MiB - 16) / 2;
    const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const flat = JSON.stringify({ username: 'x'.repeat(MiB - 32) });
    const seen = new Map<string, string>();
    /** Sends the body; any 4xx is the expected refusal (its status and code are reported), anything else fails. */
    const send = (url: string, payload: string, token: string | null) => async () => {
      const res = await built.app.inject({
        method: 'POST',
        url,
        payload,
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      });
      if (res.statusCode < 400 || res.statusCode >= 500)
        throw new Error(`${url}: ${res.statusCode} ${res.body.slice(0, 200)}`);
      seen.set(`${url} ${payload.length}`, `${res.statusCode} ${res.json<{ code: string }>().code}`);
    };
    const cases: [string, string, string, string | null][] = [
      ['baseline: flat 1 MiB body', '/api/users', flat, boot.secret],
      ['nested 1 MiB body', '/api/users', nested, boot.secret],
      ['nested 1 MiB body', '/api/auth/login', nested, null],
      ['nested 8 KiB body', '/api/auth/login', nested.slice(0, 4000) + nested.slice(-4000), null],
    ];
    const rows: string[] = [];
    for (const [what, url, payload, token] of cases) {
      const ms = await cpuPerCall(send(url, payload, token));
      rows.push(
        `| ${what}, POST ${url} | ${seen.get(`${url} ${payload.length}`) ?? ''} | ${ms.toFixed(2)} |`,
      );
    }
    rows.push(
      `| reference: JSON.parse of the nested 1 MiB body alone | | ${(await cpuPerCall(async () => JSON.parse(nested) as unknown)).toFixed(2)} |`,
    );
    await built.app.close();
    console.log(`CPU per request, ${n} requests each after 3 unmeasured:\n`);
    console.log('| body | answer | CPU ms / request |\n|---|---|---|');
    for (const row of rows) console.log(row);
  } finally {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
