import { AppError } from './errors.js';
import type { Clock } from './lib/clock.js';
import { BUILTIN_ROLES } from './lib/permissions.js';
import { systemCtx } from './lib/request-ctx.js';
import type { RolesService } from './modules/roles/service.js';
import { MAX_TOKEN_TTL_MS, type TokensService } from './modules/tokens/service.js';
import type { UsersService } from './modules/users/service.js';

export type BootstrapDeps = { users: UsersService; roles: RolesService; tokens: TokensService; clock: Clock };

/**
 * On first start with an empty database: creates the user `admin` with the admin role and an admin token,
 * and returns the secret so the caller prints it once (it is never stored or logged). `secret` comes from
 * `GATEHOUSE_BOOTSTRAP_TOKEN` when set. Returns `null` when users already exist, also when another
 * instance won the race to bootstrap.
 */
export async function bootstrapAdmin(
  deps: BootstrapDeps,
  secret?: string,
): Promise<{ userId: string; tokenId: string; secret: string } | null> {
  if (!(await deps.users.isEmpty())) return null;
  const ctx = systemCtx('bootstrap');
  try {
    const admin = await deps.users.create(ctx, {
      username: 'admin',
      kind: 'human',
      display_name: 'Administrator',
    });
    await deps.roles.assign(ctx, admin.id, BUILTIN_ROLES.admin);
    const token = await deps.tokens.issue(ctx, {
      userId: admin.id,
      name: 'bootstrap',
      scopes: ['*'],
      expiresAt: deps.clock.now() + MAX_TOKEN_TTL_MS,
      ...(secret ? { secret } : {}),
    });
    return { userId: admin.id, tokenId: token.id, secret: token.secret };
  } catch (err) {
    if (err instanceof AppError && err.code === 'user.username_taken') return null;
    throw err;
  }
}
