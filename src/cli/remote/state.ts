import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { ApiProblem, unwrap } from '@gatehouse/client';
import { remoteAction, request, type Args, type Remote } from './context.js';
import { loadDocument } from './document.js';
import { CliError, json } from './output.js';
import { formatPlan, pending, type Plan } from './plan-format.js';
import { ask } from './prompt.js';

type PlanBody = { document: unknown; prune: boolean };

async function bodyOf(opts: Record<string, unknown>): Promise<PlanBody> {
  return { document: await loadDocument(String(opts.file)), prune: opts.prune === true };
}

async function fetchPlan(remote: Remote, body: PlanBody): Promise<Plan> {
  // The document is checked by the server (its schema is GET /api/export/schema), not here.
  return unwrap(remote.api.POST('/api/plan', { body: body as never }));
}

function colour(remote: Remote): boolean {
  return process.stdout.isTTY && !remote.env.noColor;
}

/** `gatehouse export [--include-users] [--yaml] [-o FILE]`: the state document, byte for byte. */
async function exportState(remote: Remote, _args: Args, opts: Record<string, unknown>): Promise<number> {
  const query = opts.includeUsers ? '?include=users' : '';
  const accept = opts.yaml ? 'application/yaml' : 'application/json';
  const text = await (await request(remote, `/api/export${query}`, { headers: { accept } })).text();
  if (typeof opts.out === 'string') {
    await writeFile(opts.out, text.endsWith('\n') ? text : `${text}\n`);
    remote.err.write(`wrote ${opts.out}\n`);
  } else remote.out.write(text.endsWith('\n') ? text : `${text}\n`);
  return 0;
}

/** `gatehouse plan -f FILE [--prune] [--json]`: exit 0 without changes, 2 with, 1 on error. */
async function plan(remote: Remote, _args: Args, opts: Record<string, unknown>): Promise<number> {
  const result = await fetchPlan(remote, await bodyOf(opts));
  remote.out.write(opts.json || remote.json ? json(result) : formatPlan(result, colour(remote)));
  return pending(result).length === 0 ? 0 : 2;
}

/** Asks on the terminal; without one, only `--yes` may go ahead. */
async function confirmed(count: number, yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY)
    throw new CliError('not applying without confirmation: stdin is not a terminal; pass --yes to apply');
  const answer = await ask(`Apply ${count} change${count === 1 ? '' : 's'}? [y/N] `);
  return /^y(es)?$/i.test(answer.trim());
}

/** POST /api/apply against the plan's snapshot; a 412 (the state moved since) is explained. */
async function send(remote: Remote, body: PlanBody, snapshot: string) {
  try {
    const header = { 'if-match': `"${snapshot}"` };
    return await unwrap(remote.api.POST('/api/apply', { body: body as never, params: { header } }));
  } catch (err) {
    if (err instanceof ApiProblem && err.status === 412)
      throw new CliError(
        'The state changed on the server since this plan (412 Precondition Failed): nothing was applied. Run `gatehouse plan` again and review it.',
      );
    throw err;
  }
}

/** `gatehouse apply -f FILE [--prune] [--yes]`: plan, show, confirm, then apply against that plan's snapshot. */
async function apply(remote: Remote, _args: Args, opts: Record<string, unknown>): Promise<number> {
  const body = await bodyOf(opts);
  const planned = await fetchPlan(remote, body);
  const changes = pending(planned).length;
  (remote.json ? remote.err : remote.out).write(formatPlan(planned, colour(remote)));
  if (changes === 0) return 0;
  if (!(await confirmed(changes, opts.yes === true))) {
    remote.err.write('Not applied.\n');
    return 1;
  }
  const result = await send(remote, body, planned.snapshot);
  const done = pending(result).length;
  if (remote.json) remote.out.write(json(result));
  else
    remote.out.write(
      `Applied ${done} change${done === 1 ? '' : 's'} to ${result.previous} (audit event ${result.event_id}).\n`,
    );
  return 0;
}

/** `gatehouse export`, `plan`, `apply`: the declarative state over the API. */
export function registerState(program: Command): void {
  program
    .command('export')
    .description('print the declarative state document (roles, assignments, webhooks, settings, …)')
    .option('--include-users', 'include the users')
    .option('--yaml', 'YAML instead of JSON')
    .option('-o, --out <file>', 'write to FILE instead of stdout')
    .action(remoteAction(exportState));
  program
    .command('plan')
    .description('show what applying a document would change (exit 0: none, 2: changes, 1: error)')
    .requiredOption(
      '-f, --file <file>',
      'the document, JSON or YAML (`-` for stdin); ${NAME} reads env var NAME',
    )
    .option('--prune', 'also delete what a listed kind holds and the document does not')
    .option('--json', 'print the plan as JSON')
    .action(remoteAction(plan));
  program
    .command('apply')
    .description('plan, confirm, then apply a document (fails with 412 if the state moved since the plan)')
    .requiredOption(
      '-f, --file <file>',
      'the document, JSON or YAML (`-` for stdin); ${NAME} reads env var NAME',
    )
    .option('--prune', 'also delete what a listed kind holds and the document does not')
    .option('--yes', 'apply without asking')
    .action(remoteAction(apply));
}
