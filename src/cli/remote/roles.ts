import type { Command } from 'commander';
import { unwrap, type Permission, type Role } from '@gatehouse/client';
import { remoteAction, type Args, type Remote } from './context.js';
import { collect, findRole, findUser, limitOption } from './lookup.js';
import { CliError, json, record, table, type Column } from './output.js';

const COLUMNS: Column<Role>[] = [
  ['ID', (r) => r.id],
  ['NAME', (r) => r.name],
  ['BUILTIN', (r) => (r.builtin ? 'yes' : 'no')],
  ['PERMISSIONS', (r) => r.permissions.join(',')],
  ['DESCRIPTION', (r) => r.description || '-'],
];

function show(remote: Remote, role: Role): number {
  remote.out.write(
    remote.json
      ? json(role)
      : record([
          ['id', role.id],
          ['name', role.name],
          ['description', role.description],
          ['permissions', role.permissions],
          ['builtin', role.builtin],
          ['created_at', role.created_at],
          ['updated_at', role.updated_at],
        ]),
  );
  return 0;
}

/** `--permission a --permission b,c` → [a, b, c]. */
function permissions(value: unknown): Permission[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return (value as string[])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean) as Permission[]; // checked by the server
}

const repeat = (value: string, previous: string[] = []) => [...previous, value];

async function list(remote: Remote, _args: Args, opts: Record<string, unknown>): Promise<number> {
  const limit = limitOption(opts.limit);
  const roles = await collect(
    (cursor) =>
      unwrap(
        remote.api.GET('/api/roles', {
          params: { query: { ...(limit ? { limit } : {}), ...(cursor ? { cursor } : {}) } },
        }),
      ),
    opts.all === true,
  );
  remote.out.write(remote.json ? json(roles) : table(roles, COLUMNS));
  return 0;
}

async function update(remote: Remote, [ref]: Args, opts: Record<string, unknown>): Promise<number> {
  const perms = permissions(opts.permission);
  const body = {
    ...(typeof opts.name === 'string' ? { name: opts.name } : {}),
    ...(typeof opts.description === 'string' ? { description: opts.description } : {}),
    ...(perms ? { permissions: perms } : {}),
  };
  if (Object.keys(body).length === 0) throw new CliError('nothing to change: pass at least one option');
  const role = await findRole(remote, ref);
  const path = { id: role.id };
  return show(remote, await unwrap(remote.api.PUT('/api/roles/{id}', { params: { path }, body })));
}

/** `roles assign|unassign USER ROLE`, each by id or by name. */
async function assignment(remote: Remote, [userRef, roleRef]: Args, assign: boolean): Promise<number> {
  const [user, role] = await Promise.all([findUser(remote, userRef), findRole(remote, roleRef)]);
  const path = { id: user.id, roleId: role.id };
  if (assign) await unwrap(remote.api.PUT('/api/users/{id}/roles/{roleId}', { params: { path } }));
  else await unwrap(remote.api.DELETE('/api/users/{id}/roles/{roleId}', { params: { path } }));
  const message = `${assign ? 'assigned' : 'unassigned'} role ${role.name} ${assign ? 'to' : 'from'} ${user.username}`;
  if (remote.json) remote.out.write(json({ user_id: user.id, role_id: role.id, assigned: assign }));
  else remote.err.write(`${message}\n`);
  return 0;
}

/** `gatehouse roles list|get|create|update|delete|assign|unassign`. */
export function registerRoles(program: Command): void {
  const roles = program.command('roles').description('manage roles and who holds them over the API');
  roles
    .command('list')
    .description('list roles')
    .option('--limit <n>', 'page size (1-500)')
    .option('--all', 'follow every page')
    .action(remoteAction(list));
  roles
    .command('get')
    .argument('<role>', 'id or name')
    .description('show a role')
    .action(remoteAction(async (r, [ref]) => show(r, await findRole(r, ref))));
  roles
    .command('create')
    .argument('<name>')
    .description('create a role')
    .requiredOption('--permission <scope>', 'a permission, e.g. users:read (repeat, or a comma list)', repeat)
    .option('--description <text>')
    .action(
      remoteAction(async (r, [name], opts) => {
        const body = {
          name: name,
          permissions: permissions(opts.permission) ?? [],
          ...(typeof opts.description === 'string' ? { description: opts.description } : {}),
        };
        return show(r, await unwrap(r.api.POST('/api/roles', { body })));
      }),
    );
  roles
    .command('update')
    .argument('<role>', 'id or name')
    .description('change a role (the permissions given replace the old ones)')
    .option('--name <name>')
    .option('--description <text>')
    .option('--permission <scope>', 'a permission (repeat, or a comma list)', repeat)
    .action(remoteAction(update));
  registerRoleEdges(roles);
}

function registerRoleEdges(roles: Command): void {
  roles
    .command('delete')
    .argument('<role>', 'id or name')
    .description('delete a role')
    .action(
      remoteAction(async (r, [ref]) => {
        const role = await findRole(r, ref);
        await unwrap(r.api.DELETE('/api/roles/{id}', { params: { path: { id: role.id } } }));
        r.err.write(`deleted role ${role.name} (${role.id})\n`);
        return 0;
      }),
    );
  roles
    .command('assign')
    .argument('<user>', 'user id or username')
    .argument('<role>', 'role id or name')
    .description('give a user a role')
    .action(remoteAction((r, args) => assignment(r, args, true)));
  roles
    .command('unassign')
    .argument('<user>', 'user id or username')
    .argument('<role>', 'role id or name')
    .description('take a role from a user')
    .action(remoteAction((r, args) => assignment(r, args, false)));
}
