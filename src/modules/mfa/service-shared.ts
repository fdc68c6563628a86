import type { Kysely } from 'kysely';
import type { Change, RecordAudit } from '../../change.js';
import type { Tables, Trx } from '../../db/tables.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import type { Principal, RequestCtx } from '../../lib/request-ctx.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { ConfigDocument } from '../config/schemas.js';
import type { PrincipalRule } from '../roles/principal-rule.js';
import type { UsersService } from '../users/service.js';
import { newRecoveryCodes } from './factors.js';
import type { MfaStore } from './store.js';

export type MfaServiceDeps = {
  db: Kysely<Tables>;
  change: Change;
  record: RecordAudit;
  store: MfaStore;
  ids: Ids;
  clock: Clock;
  secrets: SecretBox;
  settings: () => ConfigDocument;
  users: Pick<UsersService, 'get'>;
  rule: PrincipalRule;
  /** Called after a commit that adds or removes factors (the enrolment gate's cache). */
  onFactorsChange: () => void;
};

/** At most this many factors per person, pending ones included. */
export const MAX_FACTORS = 20;
/** A passkey ceremony must finish within this time. */
export const CHALLENGE_TTL_MS = 5 * 60_000;

/** The caller, who must be a person signed in with a session: factors are never managed with an API token. */
export function sessionOf(ctx: RequestCtx): Principal {
  const p = ctx.principal;
  if (!p) throw new AppError('unauthenticated');
  if (p.tokenKind !== 'session')
    throw new AppError(
      'forbidden',
      'Second factors are managed by the person, signed in with a session (gts_…), not with an API token.',
      { required_permission: 'session' },
    );
  return p;
}

/**
 * Recovery codes for a factor just activated: new ones when it is the account's first active factor. The
 * transaction must have called `store.lockFactorsOf` first, before it changed any factor (so two at once
 * neither both issue codes nor deadlock).
 */
export async function codesOnFirstFactor(
  store: MfaStore,
  trx: Trx,
  userId: string,
  exceptId: string,
  now: number,
): Promise<string[]> {
  const others = (await store.listFactors(trx, userId)).filter(
    (f) => f.status === 'active' && f.id !== exceptId,
  );
  if (others.length > 0) return [];
  const { codes, hashes } = newRecoveryCodes();
  await store.replaceCodes(trx, userId, hashes, now);
  return codes;
}

export function confirmDetail(codes: string[]): string {
  return codes.length > 0 ? 'first active factor: recovery codes issued' : 'factor activated';
}
