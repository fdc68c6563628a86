import type { BatchStep } from '../../change-all.js';
import type { Prepared } from '../../change.js';
import { AppError } from '../../errors.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import type { AuditStreamsService } from '../audit-streams/service.js';
import type { AuthProvidersService } from '../auth-providers/module.js';
import type { ConfigService } from '../config/service.js';
import type { PluginsService } from '../plugins/service.js';
import type { RolesService } from '../roles/service.js';
import type { UsersService } from '../users/service.js';
import type { WebhooksService } from '../webhooks/service.js';
import { BODIES, type Item, type ListKind } from './bodies.js';
import type { StateIds } from './read.js';
import type { PlanChange, StateDocument } from './schemas.js';
import type { CreateAuditStreamBody } from '../audit-streams/schemas.js';
import type { CreateAuthProviderBody } from '../auth-providers/schemas.js';
import type { RegisterPluginBody } from '../plugins/schemas.js';
import type { CreateRoleBody } from '../roles/schemas.js';
import type { CreateUserBody } from '../users/schemas.js';
import type { CreateWebhookBody } from '../webhooks/schemas.js';

/** The services an apply changes the state through: their prepared changes, never their stores. */
export type StateTargets = {
  roles: Pick<
    RolesService,
    'prepareCreate' | 'prepareUpdate' | 'prepareRemove' | 'prepareAssign' | 'prepareUnassign'
  >;
  users: Pick<UsersService, 'prepareCreate' | 'prepareUpdate' | 'prepareRemove'>;
  webhooks: Pick<WebhooksService, 'prepareCreate' | 'prepareUpdate' | 'prepareRemove'>;
  plugins: Pick<
    PluginsService,
    'prepareRegister' | 'prepareConfigure' | 'prepareSetEnabled' | 'prepareUnregister'
  >;
  providers: Pick<AuthProvidersService, 'prepareCreate' | 'prepareUpdate' | 'prepareRemove'>;
  streams: Pick<AuditStreamsService, 'prepareCreate' | 'prepareUpdate' | 'prepareRemove'>;
  config: Pick<ConfigService, 'prepareReplace' | 'get'>;
};

/** The list of the document each change kind comes from. */
const LIST_OF: Record<string, ListKind> = {
  role: 'roles',
  user: 'users',
  webhook: 'webhooks',
  plugin: 'plugins',
  provider: 'providers',
  stream: 'streams',
};

/**
 * The order changes are made in: what others refer to first (roles, then users, then who holds what), the
 * rest, the settings (which name roles), then deletions in the reverse order of what refers to what.
 */
const PHASES: readonly (readonly [string, PlanChange['op'][]])[] = [
  ['role', ['create', 'update']],
  ['user', ['create', 'update']],
  ['assignment', ['delete', 'create']],
  ['webhook', ['create', 'update']],
  ['plugin', ['create', 'update']],
  ['provider', ['create', 'update']],
  ['stream', ['create', 'update']],
  ['settings', ['update']],
  ['stream', ['delete']],
  ['provider', ['delete']],
  ['plugin', ['delete']],
  ['webhook', ['delete']],
  ['user', ['delete']],
  ['role', ['delete']],
];

/** What one apply works from: the document, the ids of what exists, and those drawn for what it creates. */
type Run = {
  ctx: RequestCtx;
  doc: StateDocument;
  ids: StateIds;
  targets: StateTargets;
  items: Map<string, Item>;
};

/** The top-level fields an update's diff touches: an update sends only those. */
function changedFields(change: PlanChange): string[] {
  return [...new Set(change.diff.map((op) => op.path.split('/')[1] ?? ''))].filter(Boolean);
}

function idOf(run: Run, list: keyof StateIds, name: string): string {
  const id = run.ids[list].get(name);
  // The plan found every name (assertReferences), so a missing one is a bug, not the caller's error.
  if (!id) throw new AppError('internal', `No id for ${list} ${name}.`);
  return id;
}

/** Remembers the id a create drew, so later steps (an assignment, the settings) can name it. */
function created<T>(run: Run, list: keyof StateIds, name: string, prepared: Prepared<T>): Prepared<T> {
  if (prepared.spec.target.id) run.ids[list].set(name, prepared.spec.target.id);
  return prepared;
}

type Prep = Prepared<unknown> | Prepared<unknown>[];

async function roleStep(run: Run, change: PlanChange, item: Item): Promise<Prep> {
  const { ctx, targets } = run;
  if (change.op === 'create')
    return created(
      run,
      'roles',
      change.key,
      targets.roles.prepareCreate(ctx, BODIES.roles.create(item) as CreateRoleBody),
    );
  if (change.op === 'delete') return targets.roles.prepareRemove(ctx, idOf(run, 'roles', change.key));
  const body = pickFields(BODIES.roles.update(item), changedFields(change));
  return targets.roles.prepareUpdate(ctx, idOf(run, 'roles', change.key), body);
}

async function userStep(run: Run, change: PlanChange, item: Item): Promise<Prep> {
  const { ctx, targets } = run;
  if (change.op === 'create')
    return created(
      run,
      'users',
      change.key,
      await targets.users.prepareCreate(BODIES.users.create(item) as CreateUserBody),
    );
  if (change.op === 'delete') return targets.users.prepareRemove(ctx, idOf(run, 'users', change.key));
  const body = pickFields(BODIES.users.update(item), changedFields(change));
  return targets.users.prepareUpdate(ctx, idOf(run, 'users', change.key), body);
}

async function assignmentStep(run: Run, change: PlanChange): Promise<Prep> {
  const [user, role] = splitAssignment(change.key);
  const userId = idOf(run, 'users', user);
  const roleId = idOf(run, 'roles', role);
  return change.op === 'delete'
    ? run.targets.roles.prepareUnassign(run.ctx, userId, roleId, role)
    : run.targets.roles.prepareAssign(run.ctx, userId, roleId, role);
}

/** `alice/editor`: role names hold no `/` (their pattern), so the last one splits. */
function splitAssignment(key: string): [string, string] {
  const at = key.lastIndexOf('/');
  return [key.slice(0, at), key.slice(at + 1)];
}

function pickFields(body: Item, fields: readonly string[]): Item {
  return Object.fromEntries(Object.entries(body).filter(([k]) => fields.includes(k)));
}

async function webhookStep(run: Run, change: PlanChange, item: Item): Promise<Prep> {
  const { ctx, targets } = run;
  if (change.op === 'create') {
    const body = BODIES.webhooks.create(item) as CreateWebhookBody;
    const secret = item.secret as string | undefined;
    return created(run, 'webhooks', change.key, await targets.webhooks.prepareCreate(ctx, body, secret));
  }
  const id = idOf(run, 'webhooks', change.key);
  if (change.op === 'delete') return targets.webhooks.prepareRemove(ctx, id);
  return targets.webhooks.prepareUpdate(
    ctx,
    id,
    pickFields(BODIES.webhooks.update(item), changedFields(change)),
  );
}

async function pluginStep(run: Run, change: PlanChange, item: Item): Promise<Prep> {
  const { ctx, targets } = run;
  if (change.op === 'create') {
    const body = BODIES.plugins.create(item) as RegisterPluginBody;
    return created(run, 'plugins', change.key, await targets.plugins.prepareRegister(ctx, body));
  }
  const id = idOf(run, 'plugins', change.key);
  if (change.op === 'delete') return targets.plugins.prepareUnregister(ctx, id);
  const fields = changedFields(change);
  const steps: Prepared<unknown>[] = [];
  if (fields.includes('config')) steps.push(await targets.plugins.prepareConfigure(ctx, id, item.config));
  if (fields.includes('enabled'))
    steps.push(await targets.plugins.prepareSetEnabled(ctx, id, item.enabled === true));
  return steps;
}

async function providerStep(run: Run, change: PlanChange, item: Item): Promise<Prep> {
  const { ctx, targets } = run;
  if (change.op === 'create') {
    const body = BODIES.providers.create(item) as CreateAuthProviderBody;
    return created(run, 'providers', change.key, await targets.providers.prepareCreate(ctx, body));
  }
  const id = idOf(run, 'providers', change.key);
  if (change.op === 'delete') return targets.providers.prepareRemove(ctx, id);
  const body = pickFields(BODIES.providers.update(item), changedFields(change));
  return targets.providers.prepareUpdate(ctx, id, body);
}

async function streamStep(run: Run, change: PlanChange, item: Item): Promise<Prep> {
  const { ctx, targets } = run;
  if (change.op === 'create') {
    const body = BODIES.streams.create(item) as CreateAuditStreamBody;
    const secret = item.secret as string | undefined;
    return created(run, 'streams', change.key, await targets.streams.prepareCreate(ctx, body, secret));
  }
  const id = idOf(run, 'streams', change.key);
  if (change.op === 'delete') return targets.streams.prepareRemove(ctx, id);
  return targets.streams.prepareUpdate(
    ctx,
    id,
    pickFields(BODIES.streams.update(item), changedFields(change)),
  );
}

/**
 * The whole settings document: role names back to ids (including roles this apply creates), and the
 * per-token limits kept as they are (tokens are not part of the state).
 */
function settingsStep(run: Run): Prep {
  const { settings } = run.doc;
  if (!settings) throw new AppError('internal', 'A settings change without settings.');
  const byRole: Record<string, unknown> = {};
  for (const [name, limit] of Object.entries(settings.rate_limits.by_role))
    byRole[idOf(run, 'roles', name)] = limit;
  const current = run.targets.config.get().document;
  const document = {
    ...settings,
    rate_limits: { ...settings.rate_limits, by_role: byRole, by_token: current.rate_limits.by_token },
  };
  return run.targets.config.prepareReplace(run.ctx, document);
}

const STEP: Record<string, (run: Run, change: PlanChange, item: Item) => Promise<Prep> | Prep> = {
  role: roleStep,
  user: userStep,
  assignment: (run, change) => assignmentStep(run, change),
  webhook: webhookStep,
  plugin: pluginStep,
  provider: providerStep,
  stream: streamStep,
  settings: (run) => settingsStep(run),
};

function stepOf(kind: string) {
  const step = STEP[kind];
  if (!step) throw new AppError('internal', `No step for ${kind}.`);
  return step;
}

/**
 * Every change of the plan made ready through its own service, in dependency order (`PHASES`), one step
 * each (a plugin's config and its switch are two). `ids` gains the ids drawn for what is created. Throws what
 * a service's preparation throws (a 400 or a 422 naming the item).
 */
export async function prepareSteps(
  ctx: RequestCtx,
  doc: StateDocument,
  ids: StateIds,
  targets: StateTargets,
  changes: readonly PlanChange[],
): Promise<BatchStep[]> {
  const items = new Map<string, Item>();
  for (const [kind, list] of Object.entries(LIST_OF))
    for (const item of (doc[list] ?? []) as Item[]) items.set(`${kind}\u0000${keyOf(kind, item)}`, item);
  const run: Run = { ctx, doc, ids, targets, items };
  const steps: BatchStep[] = [];
  for (const [kind, ops] of PHASES)
    for (const op of ops)
      for (const change of changes.filter((c) => c.kind === kind && c.op === op)) {
        const label = kind === 'settings' ? 'settings' : `${kind} ${change.key}`;
        // A deletion has no item in the document: it names only what exists.
        const item = items.get(`${kind}\u0000${change.key}`) ?? {};
        const prepared = await Promise.resolve(stepOf(kind)(run, change, item)).catch((err: unknown) => {
          throw err instanceof AppError
            ? new AppError(err.code, `${label}: ${err.detail ?? err.title}`, {
                ...err.extensions,
                resource: label,
              })
            : err;
        });
        for (const p of [prepared].flat()) steps.push({ label, prepared: p });
      }
  return steps;
}

function keyOf(kind: string, item: Item): string {
  return String(kind === 'user' ? item.username : kind === 'webhook' ? item.url : item.name);
}
