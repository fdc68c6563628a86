import { hostname, userInfo } from 'node:os';
import type { Env } from '../env/schema.js';
import { BUILTIN_ROLES } from '../lib/permissions.js';
import { systemCtx } from '../lib/request-ctx.js';
import type { User } from '../modules/users/schemas.js';
import { openServices, type CliServices } from './open.js';

/** How long a break-glass token works: long enough to repair access, short enough to forget safely. */
export const RECOVERY_TTL_MS = 60 * 60 * 1000;

export type RecoverOptions = { enable?: boolean; out?: NodeJS.WritableStream; err?: NodeJS.WritableStream };

/** The operating-system user running the command, as the audit log names the operator. */
function operator(): string {
  let name = process.env.SUDO_USER ? `${process.env.SUDO_USER} (via sudo)` : undefined;
  try {
    name ??= userInfo().username;
  } catch {
    name ??= `uid ${process.getuid?.() ?? 'unknown'}`;
  }
  return `${name}@${hostname()}`;
}

type Recovered = { tokenId: string; secret: string; expiresAt: number; gaveAdmin: boolean };

/** Enables (if asked), gives the admin role (if missing), mints the token, and audits it all. */
async function recover(services: CliServices, user: User, who: string): Promise<Recovered> {
  const { users, roles, tokens, clock, record } = services;
  const ctx = systemCtx(`cli:admin-recover:${who}`.slice(0, 128));
  if (user.disabled) await users.update(ctx, user.id, { disabled: false });
  const roleIds = (await roles.listOfUser(user.id, { limit: 200 })).data.map((r) => r.id);
  const gaveAdmin = !roleIds.includes(BUILTIN_ROLES.admin);
  if (gaveAdmin) await roles.assign(ctx, user.id, BUILTIN_ROLES.admin);
  const expiresAt = clock.now() + RECOVERY_TTL_MS;
  const token = await tokens.issue(ctx, {
    userId: user.id,
    name: `break-glass recovery by ${who}`.slice(0, 100),
    scopes: ['*'],
    expiresAt,
  });
  const also = [gaveAdmin ? 'the admin role was given' : '', user.disabled ? 'the user was enabled' : ''];
  await record(ctx, {
    action: 'admin.recover',
    target: { type: 'user', id: user.id },
    outcome: 'success',
    detail: [
      `break-glass admin token ${token.id} for "${user.username}" issued by OS user ${who}, valid until ${new Date(expiresAt).toISOString()}`,
      ...also.filter(Boolean),
    ].join('; '),
  });
  return { tokenId: token.id, secret: token.secret, expiresAt, gaveAdmin };
}

/**
 * `gatehouse admin recover USERNAME`: break-glass access for when no one can sign in (the SSO provider is
 * down, every admin lost their second factor, the bootstrap token is gone). It needs the database and the
 * audit key, not the API: only someone on the database host can run it. It gives the user the admin role if
 * they lack it (with `--enable`, enables a disabled user), and prints an admin API token valid for one hour,
 * shown once. Everything is audited as `system`, with the operator's OS user and host in an `admin.recover`
 * event. Exit 0 on success, 2 when the user does not exist or is disabled without `--enable`.
 */
export async function adminRecover(
  env: Env,
  username: string,
  options: RecoverOptions = {},
): Promise<number> {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  const { services, close } = await openServices(env);
  try {
    const user = await services.users.findByUsername(username);
    if (!user) {
      err.write(
        `No user is called "${username}". List users with GET /api/users, or check DATA_DIR/DATABASE_URL.\n`,
      );
      return 2;
    }
    if (user.disabled && !options.enable) {
      err.write(
        `"${user.username}" is disabled. Run again with --enable to enable it as part of the recovery.\n`,
      );
      return 2;
    }
    const done = await recover(services, user, operator());
    const until = new Date(done.expiresAt).toISOString();
    out.write(
      `\n  Break-glass admin token for "${user.username}", valid for 1 hour (until ${until})` +
        `${done.gaveAdmin ? ', with the admin role given' : ''}.\n` +
        `  It is shown once and audited (admin.recover, ${done.tokenId}):\n\n    ${done.secret}\n\n` +
        `  Repair access with it (reset factors, set a password, turn auth.sso_only off), then revoke it:\n` +
        `  DELETE /api/tokens/${done.tokenId}\n\n`,
    );
    return 0;
  } finally {
    await close();
  }
}
