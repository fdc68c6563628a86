import type { Command } from 'commander';
import { unwrap, type Permission, type Token, type TokenWithSecret } from '@gatehouse/client';
import { remoteAction, type Args, type Remote } from './context.js';
import { collect, findUser, limitOption } from './lookup.js';
import { CliError, json, table, type Column } from './output.js';

const COLUMNS: Column<Token>[] = [
  ['ID', (t) => t.id],
  ['NAME', (t) => t.name],
  ['USER', (t) => t.user_id],
  ['PREFIX', (t) => t.prefix],
  ['SCOPES', (t) => t.scopes.join(',')],
  ['EXPIRES', (t) => t.expires_at ?? 'never'],
  ['LAST USED', (t) => t.last_used_at],
  ['REVOKED', (t) => t.revoked_at],
];

const repeat = (value: string, previous: string[] = []) => [...previous, value];

function integer(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`${name} must be a whole number of seconds`);
  return n;
}

/**
 * The secret alone on stdout, so `gatehouse tokens create … > file` or `$(…)` captures it and nothing else;
 * what the token is goes to stderr (`--output json`: as JSON, without the secret).
 */
function printSecret(remote: Remote, token: TokenWithSecret, verb: string): number {
  const { secret, ...meta } = token;
  remote.out.write(`${secret}\n`);
  remote.err.write(
    remote.json
      ? json(meta)
      : `${verb} token ${meta.id} "${meta.name}" for ${meta.user_id}, scopes ${meta.scopes.join(',')}, ` +
          `expires ${meta.expires_at ?? 'never'}. The secret is shown once: store it now.\n`,
  );
  return 0;
}

async function create(remote: Remote, _args: Args, opts: Record<string, unknown>): Promise<number> {
  const scopes = (opts.scope as string[]).flatMap((s) => s.split(',')).map((s) => s.trim());
  const ttl = integer(opts.ttl, '--ttl');
  const user = typeof opts.user === 'string' ? await findUser(remote, opts.user) : undefined;
  const body = {
    name: opts.name as string,
    scopes: scopes.filter(Boolean) as Permission[], // checked by the server
    ...(user ? { user_id: user.id } : {}),
    ...(ttl !== undefined ? { ttl_seconds: ttl } : {}),
    ...(typeof opts.expiresAt === 'string' ? { expires_at: opts.expiresAt } : {}),
  };
  return printSecret(remote, await unwrap(remote.api.POST('/api/tokens', { body })), 'created');
}

async function list(remote: Remote, _args: Args, opts: Record<string, unknown>): Promise<number> {
  const limit = limitOption(opts.limit);
  const user = typeof opts.user === 'string' ? await findUser(remote, opts.user) : undefined;
  const tokens = await collect((cursor) => {
    const query = {
      ...(limit ? { limit } : {}),
      ...(cursor ? { cursor } : {}),
      ...(user ? { user_id: user.id } : {}),
    };
    return unwrap(remote.api.GET('/api/tokens', { params: { query } }));
  }, opts.all === true);
  remote.out.write(remote.json ? json(tokens) : table(tokens, COLUMNS));
  return 0;
}

/** `gatehouse tokens create|list|rotate|revoke`. */
export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').description('manage API tokens over the API');
  tokens
    .command('create')
    .description('create a token; prints only its secret on stdout')
    .requiredOption('--name <name>', 'what the token is for')
    .requiredOption('--scope <scope>', 'a scope, e.g. users:read (repeat, or a comma list)', repeat)
    .option('--user <user>', 'owner (id or username; default: you)')
    .option('--ttl <seconds>', 'lifetime in seconds (default 30 days)')
    .option('--expires-at <iso>', 'expiry time instead of --ttl')
    .action(remoteAction(create));
  tokens
    .command('list')
    .description('list tokens (never their secrets)')
    .option('--user <user>', "only this owner's tokens (id or username)")
    .option('--limit <n>', 'page size (1-500)')
    .option('--all', 'follow every page')
    .action(remoteAction(list));
  tokens
    .command('rotate')
    .argument('<id>', 'token id (tok_…)')
    .description('new secret for a token; prints only the secret on stdout')
    .option('--grace <seconds>', 'how long the old secret keeps working (default 0)')
    .action(
      remoteAction(async (r, [id], opts) => {
        const grace = integer(opts.grace, '--grace');
        const body = { grace_seconds: grace ?? 0 };
        const token = await unwrap(
          r.api.POST('/api/tokens/{id}/rotate', { params: { path: { id: id } }, body }),
        );
        return printSecret(r, token, 'rotated');
      }),
    );
  tokens
    .command('revoke')
    .argument('<id>', 'token id (tok_…)')
    .description('revoke a token')
    .action(
      remoteAction(async (r, [id]) => {
        await unwrap(r.api.DELETE('/api/tokens/{id}', { params: { path: { id: id } } }));
        r.err.write(`revoked token ${id}\n`);
        return 0;
      }),
    );
}
