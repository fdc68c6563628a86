/**
 * Issue #19: how long `POST /api/plan` takes for an export of 1,000 users and 100 roles against an unchanged
 * target (the goal: under a second). Baseline in the same run: `GET /api/export?include=users` of the same
 * state, which a plan contains (it reads the current state the same way, then compares). Gatehouse on SQLite,
 * one request at a time, interleaved export → plan, medians.
 *
 * `npm run bench:plan [-- --users 1000 --roles 100 --rounds 15]`
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

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      users: { type: 'string', default: '1000' },
      roles: { type: 'string', default: '100' },
      rounds: { type: 'string', default: '15' },
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
