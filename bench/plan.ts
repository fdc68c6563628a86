/**
 * Issue #19: how long `POST /api/plan` takes for an export of 1,000 users and 100 roles against an unchanged
 * target (the goal: under a second). Baseline in the same run: `GET /api/export?include=users` of the same
 * state, which a plan contains (it reads the current state the same way, then compares). Gatehouse on SQLite,
 * one request at a time, interleaved export → plan, medians.
 *
 * Then `POST /api/apply` of a document creating 1,000 new users (one transaction: one `config.apply` event
 * names them all), against the baseline of the same 1,000 creations as `POST /api/users` requests, 8 in
 * flight; fresh usernames each round, interleaved apply → requests, medians.
 *
 * `npm run bench:plan [-- --users 1000 --roles 100 --rounds 15 --creates 1000 --apply-rounds 5]`
 */
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stopAllChildren, stopChild } from './lib/children.js';
import { api, generateToken, scrubInheritedEnv, startSeeded } from './lib/gatehouse.js';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await run();
  return { ms: performance.now() - started, value };
}

/** 100 roles of two read scopes each, and each seeded user given one of them. */
async function seedRoles(url: string, token: string, ids: readonly string[], count: number): Promise<void> {
  const roleIds: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await api(url, token, 'POST', '/api/roles', {
      name: `bench-role-${i}`,
      permissions: ['users:read', 'audit:read'],
    });
    if (res.status !== 201)
      throw new Error(`POST /api/roles answered ${res.status}: ${JSON.stringify(res.json)}`);
    roleIds.push((res.json as { id: string }).id);
  }
  let n = 0;
  const worker = async () => {
    while (n < ids.length) {
      const i = n++;
      const res = await api(url, token, 'PUT', `/api/users/${ids[i]}/roles/${roleIds[i % roleIds.length]}`);
      if (res.status !== 204) throw new Error(`assigning a role answered ${res.status}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

/** `n` POST /api/users with `inFlight` requests at a time. */
async function createOneByOne(url: string, token: string, names: readonly string[], inFlight: number) {
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const res = await api(url, token, 'POST', '/api/users', { username: names[next++] });
      if (res.status !== 201) throw new Error(`POST /api/users answered ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

/** Plans, then applies, a document creating these users; checks that one apply made them all. */
async function applyCreates(url: string, token: string, names: readonly string[]): Promise<number> {
  const document = { version: 1, users: names.map((username) => ({ username })) };
  const plan = await api(url, token, 'POST', '/api/plan', { document });
  if (plan.status !== 200)
    throw new Error(`POST /api/plan answered ${plan.status}: ${JSON.stringify(plan.json)}`);
  const { snapshot } = plan.json as { snapshot: string };
  const t = await timed(() =>
    api(url, token, 'POST', '/api/apply', { document }, { 'if-match': `"${snapshot}"` }),
  );
  if (t.value.status !== 200)
    throw new Error(`POST /api/apply answered ${t.value.status}: ${JSON.stringify(t.value.json)}`);
  const { event_id: id } = t.value.json as { event_id: string };
  const tie = await api(url, token, 'GET', `/api/audit/${id}`);
  const made = (tie.json as { changes: { after: { create: number } } }).changes.after.create;
  if (made !== names.length) throw new Error(`one apply created ${made} users, not ${names.length}`);
  return t.ms;
}

/** Deletes what the rounds created (a pruning apply back to `users`), so the state stays under the document limits. */
async function pruneBack(url: string, token: string, users: readonly unknown[]): Promise<void> {
  const document = { version: 1, users };
  const plan = await api(url, token, 'POST', '/api/plan', { document, prune: true });
  const { snapshot } = plan.json as { snapshot: string };
  const res = await api(
    url,
    token,
    'POST',
    '/api/apply',
    { document, prune: true },
    { 'if-match': `"${snapshot}"` },
  );
  if (res.status !== 200)
    throw new Error(`the pruning apply answered ${res.status}: ${JSON.stringify(res.json)}`);
}

async function benchApply(
  url: string,
  token: string,
  opts: { creates: number; rounds: number; users: readonly unknown[] },
): Promise<void> {
  const { creates, rounds } = opts;
  const applies: number[] = [];
  const singles: number[] = [];
  for (let round = 0; round < rounds + 1; round++) {
    const tag = `${round}-${Date.now().toString(36)}`;
    const names = (p: string) => Array.from({ length: creates }, (_, i) => `${p}-${tag}-${i}`);
    const a = await applyCreates(url, token, names('apply'));
    const s = await timed(() => createOneByOne(url, token, names('post'), 8));
    await pruneBack(url, token, opts.users);
    // The first round warms the server up and is not counted.
    if (round >= 1) {
      applies.push(a);
      singles.push(s.ms);
    }
  }
  const [am, sm] = [median(applies), median(singles)];
  process.stdout.write(
    `POST /api/apply, ${creates} user creations in one transaction  median ${am.toFixed(0)} ms (min ${Math.min(...applies).toFixed(0)}, max ${Math.max(...applies).toFixed(0)})\n` +
      `${creates} × POST /api/users, 8 in flight (baseline)        median ${sm.toFixed(0)} ms (min ${Math.min(...singles).toFixed(0)}, max ${Math.max(...singles).toFixed(0)})\n` +
      `apply / requests: ${(am / sm).toFixed(2)}× (${applies.length} rounds each)\n`,
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      users: { type: 'string', default: '1000' },
      roles: { type: 'string', default: '100' },
      rounds: { type: 'string', default: '15' },
      creates: { type: 'string', default: '1000' },
      'apply-rounds': { type: 'string', default: '5' },
    },
  });
  scrubInheritedEnv();
  const token = generateToken();
  const inst = await startSeeded({
    name: 'plan',
    token,
    seed: Number(values.users),
    tag: `plan${Date.now().toString(36)}`,
  });
  try {
    await seedRoles(inst.url, token, inst.ids, Number(values.roles));
    const exported = await api(inst.url, token, 'GET', '/api/export?include=users');
    if (exported.status !== 200) throw new Error(`GET /api/export answered ${exported.status}`);
    const doc = exported.json as { users: unknown[]; roles: unknown[]; assignments: unknown[] };
    const bytes = JSON.stringify(doc).length;
    process.stdout.write(
      `state: ${doc.users.length} users, ${doc.roles.length} roles, ${doc.assignments.length} assignments; export ${(bytes / 1024).toFixed(0)} KiB\n`,
    );
    const exports: number[] = [];
    const plans: number[] = [];
    for (let round = 0; round < Number(values.rounds) + 2; round++) {
      const e = await timed(() => api(inst.url, token, 'GET', '/api/export?include=users'));
      const p = await timed(() => api(inst.url, token, 'POST', '/api/plan', { document: doc }));
      if (p.value.status !== 200) throw new Error(`POST /api/plan answered ${p.value.status}`);
      const changes = (p.value.json as { changes: { op: string }[] }).changes;
      const changed = changes.filter((c) => c.op !== 'unchanged').length;
      if (changed > 0) throw new Error(`the plan of an unchanged target has ${changed} changes`);
      // The first two rounds warm the server up and are not counted.
      if (round >= 2) {
        exports.push(e.ms);
        plans.push(p.ms);
      }
    }
    const [em, pm] = [median(exports), median(plans)];
    process.stdout.write(
      `GET /api/export?include=users  median ${em.toFixed(1)} ms (min ${Math.min(...exports).toFixed(1)}, max ${Math.max(...exports).toFixed(1)})\n` +
        `POST /api/plan (unchanged)     median ${pm.toFixed(1)} ms (min ${Math.min(...plans).toFixed(1)}, max ${Math.max(...plans).toFixed(1)})\n` +
        `plan / export: ${(pm / em).toFixed(2)}×; goal: a plan under 1,000 ms: ${pm < 1000 ? 'met' : 'NOT met'} ` +
        `(${exports.length} rounds each, one request at a time)\n`,
    );
    await benchApply(inst.url, token, {
      creates: Number(values.creates),
      rounds: Number(values['apply-rounds']),
      users: doc.users,
    });
    await stopChild(inst.child, 15_000);
    return 0;
  } finally {
    await stopAllChildren();
    rmSync(inst.dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
