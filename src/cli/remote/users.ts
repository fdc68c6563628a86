import type { Command } from 'commander';
import { unwrap, type UpdateUserBody, type User } from '@gatehouse/client';
import { remoteAction, type Args, type Remote } from './context.js';
import { collect, findUser, limitOption } from './lookup.js';
import { CliError, json, record, table, type Column } from './output.js';
import { readSecretInput } from './prompt.js';

const COLUMNS: Column<User>[] = [
  ['ID', (u) => u.id],
  ['USERNAME', (u) => u.username],
  ['KIND', (u) => u.kind],
  ['DISABLED', (u) => (u.disabled ? 'yes' : 'no')],
  ['EMAIL', (u) => u.email],
  ['DISPLAY NAME', (u) => u.display_name],
];

function show(remote: Remote, user: User): number {
  remote.out.write(
    remote.json
      ? json(user)
      : record([
          ['id', user.id],
          ['username', user.username],
          ['kind', user.kind],
          ['disabled', user.disabled],
          ['email', user.email],
          ['display_name', user.display_name],
          ['created_at', user.created_at],
          ['updated_at', user.updated_at],
        ]),
  );
  return 0;
}

type UserOptions = {
  username?: string;
  email?: string;
  displayName?: string;
  kind?: string;
  passwordStdin?: boolean;
};

/** The fields given as options, as a create or update body. */
async function bodyOf(opts: UserOptions): Promise<UpdateUserBody> {
  if (opts.kind !== undefined && opts.kind !== 'human' && opts.kind !== 'service')
    throw new CliError('--kind must be human or service');
  return {
    ...(opts.username !== undefined ? { username: opts.username } : {}),
    ...(opts.email !== undefined ? { email: opts.email || null } : {}),
    ...(opts.displayName !== undefined ? { display_name: opts.displayName || null } : {}),
    ...(opts.kind !== undefined ? { kind: opts.kind } : {}),
    ...(opts.passwordStdin ? { password: await readSecretInput('Password: ') } : {}),
  };
}

async function list(remote: Remote, _args: Args, opts: Record<string, unknown>): Promise<number> {
  const limit = limitOption(opts.limit);
  const users = await collect(
    (cursor) =>
      unwrap(
        remote.api.GET('/api/users', {
          params: { query: { ...(limit ? { limit } : {}), ...(cursor ? { cursor } : {}) } },
        }),
      ),
    opts.all === true,
  );
  remote.out.write(remote.json ? json(users) : table(users, COLUMNS));
  return 0;
}

async function update(remote: Remote, id: string, body: UpdateUserBody): Promise<number> {
  const user = await findUser(remote, id);
  const path = { id: user.id };
  return show(remote, await unwrap(remote.api.PUT('/api/users/{id}', { params: { path }, body })));
}

function withFields(command: Command): Command {
  return command
    .option('--email <email>', 'email address ("" to clear)')
    .option('--display-name <name>', 'display name ("" to clear)')
    .option('--kind <kind>', 'human or service')
    .option('--password-stdin', 'read a password from stdin (or a prompt without echo)');
}

/** `gatehouse users list|get|create|update|enable|disable|delete`. */
export function registerUsers(program: Command): void {
  const users = program.command('users').description('manage users over the API');
  users
    .command('list')
    .description('list users')
    .option('--limit <n>', 'page size (1-500)')
    .option('--all', 'follow every page')
    .action(remoteAction(list));
  users
    .command('get')
    .argument('<user>', 'id or username')
    .description('show a user')
    .action(remoteAction(async (r, [ref]) => show(r, await findUser(r, ref))));
  withFields(users.command('create').argument('<username>').description('create a user')).action(
    remoteAction(async (r, [username], opts) => {
      const body = { ...(await bodyOf(opts)), username: username };
      return show(r, await unwrap(r.api.POST('/api/users', { body })));
    }),
  );
  withFields(users.command('update').argument('<user>', 'id or username').description('change a user'))
    .option('--username <name>', 'new username')
    .action(
      remoteAction(async (r, [ref], opts) => {
        const body = await bodyOf(opts);
        if (Object.keys(body).length === 0) throw new CliError('nothing to change: pass at least one option');
        return update(r, ref, body);
      }),
    );
  users
    .command('disable')
    .argument('<user>', 'id or username')
    .description('disable a user (its tokens and sessions stop working)')
    .action(remoteAction((r, [ref]) => update(r, ref, { disabled: true })));
  users
    .command('enable')
    .argument('<user>', 'id or username')
    .description('enable a disabled user')
    .action(remoteAction((r, [ref]) => update(r, ref, { disabled: false })));
  users
    .command('delete')
    .argument('<user>', 'id or username')
    .description('delete a user')
    .action(
      remoteAction(async (r, [ref]) => {
        const user = await findUser(r, ref);
        await unwrap(r.api.DELETE('/api/users/{id}', { params: { path: { id: user.id } } }));
        r.err.write(`deleted user ${user.username} (${user.id})\n`);
        return 0;
      }),
    );
}
