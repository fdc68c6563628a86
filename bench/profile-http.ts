/**
 * A V8 CPU profile of one `npm run bench` scenario: Gatehouse on SQLite under `node --cpu-prof`, seeded as the
 * HTTP bench seeds it, then autocannon for `--seconds` on one scenario. The profile is written when the server
 * stops; summarise it with `tsx bench/profile-summary.ts <file> [top]`.
 *
 * `npx tsx bench/profile-http.ts --scenario get|list|post|bodiless --seconds 10 [--out bench/out/prof]`
 * (`bodiless`: `GET /api/users/{id}` sent with `Content-Encoding: identity`, the charset/encoding check's path.)
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stopAllChildren, stopChild } from './lib/children.js';
import { runBench } from './lib/compare.js';
import { generateToken, scrubInheritedEnv, startSeeded } from './lib/gatehouse.js';
import { createRequest, describeRun, fire, getByIdRequest, listRequest, type Request } from './lib/load.js';

const SCENARIOS: Record<string, (token: string, ids: string[]) => Request> = {
  get: (token, ids) => getByIdRequest(token, ids),
  post: (token) => createRequest(token, `prof${Date.now().toString(36)}`),
  list: (token) => listRequest(token),
  bodiless: (token, ids) => {
    const req = getByIdRequest(token, ids);
    return { ...req, headers: { ...req.headers, 'content-encoding': 'identity' } };
  },
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string', default: 'get' },
      seconds: { type: 'string', default: '10' },
      out: { type: 'string', default: 'bench/out/prof' },
    },
  });
  const build = SCENARIOS[values.scenario];
  if (!build) throw new Error(`--scenario must be one of ${Object.keys(SCENARIOS).join(', ')}`);
  scrubInheritedEnv();
  const dir = resolve(values.out, values.scenario);
  mkdirSync(dir, { recursive: true });
  const token = generateToken();
  const tag = `prof.${Date.now().toString(36)}`;
  const name = `${values.scenario}-${Date.now()}`;
  const inst = await startSeeded({
    name,
    token,
    seed: 200,
    tag,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`],
  });
  try {
    const options = { duration: 0, warmup: 0, runs: 1, connections: 10, pipelining: 1, seed: 200 };
    const run = await fire(inst.url, build(token, inst.ids), options, Number(values.seconds), inst.child.pid);
    process.stdout.write(`${values.scenario}: ${describeRun({ ...run, phase: 'measured', index: 1 })}\n`);
    await stopChild(inst.child, 15_000);
  } finally {
    await stopAllChildren();
    rmSync(inst.dataDir, { recursive: true, force: true });
  }
  const written = readdirSync(dir).filter((f) => f.startsWith(name));
  process.stdout.write(`profile: ${written.map((f) => `${dir}/${f}`).join(', ') || '(none written)'}\n`);
  return 0;
}

runBench(main);
