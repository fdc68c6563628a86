/**
 * Issue #3: the cost of authentication. `GET /api/users/{id}` with the bootstrap admin token on an instance
 * that has that token only, against the same route on a second instance with scoped service tokens and a
 * session, all in one run. `npm run bench:auth`; see bench/README.md.
 */
import { rmSync } from 'node:fs';
import { stopAllChildren, stopChild } from './lib/children.js';
import {
  compare,
  log,
  markdownTable,
  runBench,
  setUp,
  runInterleaved,
  selectVariants,
  statusProblems,
  textTable,
  writeReport,
} from './lib/compare.js';
import {
  BENCH_LIMIT,
  apiExpect,
  countRows,
  generateToken,
  patchConfig,
  startSeeded,
  type DbCounts,
  type Instance,
} from './lib/gatehouse.js';
import { getByIdRequest } from './lib/load.js';

/** Service accounts on the populated instance, each with its own token: the "many clients" variant rotates over them. */
const SERVICE_TOKENS = 100;
const PASSWORD = 'bench-password-not-secret';

type Principals = { scoped: string[]; session: string; roleId: string };

/**
 * A role granting `users:read` only; `SERVICE_TOKENS` service accounts holding it, each with a token scoped to
 * `users:read`; a human user with the role and a password, signed in for a session. The role gets the bench
 * rate limit (`by_role`), so every token and the session pass the limiter without a 429.
 */
async function addPrincipals(inst: Instance, admin: string, tag: string): Promise<Principals> {
  const call = <T>(method: string, path: string, body: unknown, expected: number) =>
    apiExpect<T>(inst.url, admin, { method, path, body, expected });
  const role = await call<{ id: string }>(
    'POST',
    '/api/roles',
    { name: 'bench-reader', description: 'bench: reads users', permissions: ['users:read'] },
    201,
  );
  await patchConfig(inst.url, admin, { rate_limits: { by_role: { [role.id]: BENCH_LIMIT } } });
  const withRole = async (body: Record<string, unknown>) => {
    const user = await call<{ id: string }>('POST', '/api/users', body, 201);
    await call('PUT', `/api/users/${user.id}/roles/${role.id}`, undefined, 204);
    return user.id;
  };
  const scoped: string[] = [];
  for (let i = 0; i < SERVICE_TOKENS; i++) {
    const userId = await withRole({ username: `${tag}.svc.${i}`, kind: 'service' });
    scoped.push(
      (
        await call<{ secret: string }>(
          'POST',
          '/api/tokens',
          { name: `bench ${i}`, scopes: ['users:read'], user_id: userId },
          201,
        )
      ).secret,
    );
  }
  const human = `${tag}.human`;
  await withRole({ username: human, kind: 'human', password: PASSWORD });
  const session = (
    await call<{ token: string }>('POST', '/api/auth/login', { username: human, password: PASSWORD }, 200)
  ).token;
  return { scoped, session, roleId: role.id };
}

/** Each kind of principal reads a user, and the scoped token is refused a write: it really is scoped. */
async function checkPrincipals(inst: Instance, p: Principals): Promise<void> {
  const id = inst.ids[0] ?? '';
  for (const secret of [p.scoped[0] ?? '', p.scoped.at(-1) ?? '', p.session]) {
    await apiExpect(inst.url, secret, { method: 'GET', path: `/api/users/${id}` });
  }
  await apiExpect(inst.url, p.scoped[0] ?? '', {
    method: 'POST',
    path: '/api/users',
    body: { username: 'bench.denied' },
    expected: 403,
  });
}

function dbProblems(name: string, before: DbCounts, after: DbCounts): string[] {
  const problems: string[] = [];
  if (after.auditOther !== before.auditOther)
    problems.push(`${name}: ${after.auditOther - before.auditOther} denied/error audit rows during the load`);
  if (after.users !== before.users)
    problems.push(`${name}: users changed during a read-only load (${before.users} → ${after.users})`);
  return problems;
}

async function main(): Promise<number> {
  const setup = setUp('bench:auth', 'Gatehouse authentication bench (issue #3)');
  if (!setup) return 0;
  const { options, startedAt, machine } = setup;
  const tag = `bench.${startedAt.getTime().toString(36)}`;
  const admin = generateToken();
  const instances: Instance[] = [];
  try {
    const bare = await startSeeded({ name: 'bootstrap-only', token: admin, seed: options.seed, tag });
    instances.push(bare);
    const full = await startSeeded({ name: 'populated', token: admin, seed: options.seed, tag });
    instances.push(full);
    const principals = await addPrincipals(full, admin, tag);
    await checkPrincipals(full, principals);
    log(
      `populated: role bench-reader (users:read), ${SERVICE_TOKENS} service accounts with a users:read token each, one human user signed in`,
    );
    const before = instances.map((i) => countRows(i.dataDir));

    const variants = selectVariants([
      {
        key: 'bootstrap-only',
        title: 'admin token, instance with the bootstrap token only',
        url: bare.url,
        request: getByIdRequest(admin, bare.ids),
      },
      {
        key: 'admin',
        title: 'admin token, populated instance',
        url: full.url,
        request: getByIdRequest(admin, full.ids),
      },
      {
        key: 'scoped',
        title: 'one service token (users:read)',
        url: full.url,
        request: getByIdRequest(principals.scoped[0] ?? '', full.ids),
      },
      {
        key: `scoped-x${SERVICE_TOKENS}`,
        title: `${SERVICE_TOKENS} service tokens, next one per request`,
        url: full.url,
        request: getByIdRequest(principals.scoped, full.ids),
      },
      {
        key: 'session',
        title: 'session token (human user, same role)',
        url: full.url,
        request: getByIdRequest(principals.session, full.ids),
      },
    ]);
    log('');
    const { runs, problems } = await runInterleaved(
      variants,
      instances.map((i) => i.child.pid),
      options,
    );
    for (const inst of instances) await stopChild(inst.child);
    const after = instances.map((i) => countRows(i.dataDir));
    instances.forEach((inst, i) => problems.push(...dbProblems(inst.child.name, before[i]!, after[i]!)));

    const rows = compare(variants, runs);
    problems.push(...statusProblems(rows));
    log(
      `\nGET /api/users/{id}: median of ${options.runs} rounds of ${options.duration} s; ratio and Δ p50 against the first row\n`,
    );
    log(textTable(rows));
    const warnings = instances.flatMap((i) => i.child.warnings.map((w) => `${i.child.name}: ${w}`));
    if (warnings.length)
      log(
        `\nGatehouse logged ${warnings.length} warning/error lines; first ones:\n${warnings.slice(0, 5).join('\n')}`,
      );
    log(
      problems.length
        ? `\nPROBLEMS:\n- ${problems.join('\n- ')}`
        : '\nAll responses 200, no errors, no denied audit rows during the load.',
    );
    writeReport(
      'auth',
      startedAt,
      {
        options,
        machine,
        serviceTokens: SERVICE_TOKENS,
        summaries: rows,
        runs,
        dbCounts: { before, after },
        warnings,
        problems,
      },
      markdownTable(rows),
    );
    return problems.length ? 1 : 0;
  } finally {
    await stopAllChildren();
    for (const inst of instances) rmSync(inst.dataDir, { recursive: true, force: true });
  }
}

runBench(main);
