import type { Kysely } from 'kysely';
import type { Change } from '../../change.js';
import type { Tables } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import { createTokensService } from './service.js';
import { createTokensStore } from './store.js';

/** Token authentication and issuing; the /api/tokens routes arrive with the identity issue (#3). */
export function createTokensModule(deps: { db: Kysely<Tables>; change: Change; ids: Ids; clock: Clock }) {
  return { service: createTokensService({ ...deps, store: createTokensStore() }) };
}
