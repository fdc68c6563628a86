import { resolve } from 'node:path';
import { createChange, createRecordAudit } from './change.js';
import { createChangeAll } from './change-all.js';
import type { Database } from './db/create-db.js';
import { loadAuditSecret } from './env/audit-key.js';
import type { AppDeps } from './app.js';
import { deriveAuditKeys } from './modules/audit/keys.js';
import { createAuditModule, logSeal } from './modules/audit/module.js';
import { createConfigModule } from './modules/config/module.js';
import { createAuditStreamsModule } from './modules/audit-streams/module.js';
import type { StreamRelay } from './modules/audit-streams/relay.js';
import { createSecretBox } from './lib/secret-box.js';
import { createOutbox, type Outbox } from './modules/events/outbox.js';
import { createJournal } from './modules/journal/service.js';
import { createPluginsStore } from './modules/plugins/module.js';
import { createRolesModule } from './modules/roles/module.js';
import { createWebhooksModule } from './modules/webhooks/module.js';
import type { WebhookWorker } from './modules/webhooks/worker.js';
import { createPluginHost, type PluginHost } from './plugins/host.js';

/**
 * What Gatehouse is without HTTP, over a migrated database: the audit log (its chain sealed, or its key
 * checked, before anything appends), the journal and the change path with the plugin host's before-hooks, the
 * settings (kept current), roles, and the relays: the webhook worker, audit streams and plugin after-hooks. `buildApp` puts the API
 * on it; `gatehouse worker` runs its relays alone. `onAccessChange`: called when access may have narrowed
 * (the API's caches of tokens and sessions).
 */
export async function buildCore(deps: AppDeps & { onAccessChange?: () => void }) {
  const { env, database, logger, clock, ids } = deps;
  const { db, helpers } = database;
  const { auditKeys, secrets } = keysOf(deps);
  // Plugins judge changes before they happen, so the host exists before the change path.
  let allowPrivate = false;
  // Subscribers' creators' current permissions (roles is defined below; called only after buildCore).
  const creatorPermissions: typeof roles.service.currentPermissions = (q, userIds) =>
    roles.service.currentPermissions(q, userIds);
  const exportsDir = resolve(env.DATA_DIR, 'exports');
  const pluginsStore = createPluginsStore();
  const host = createPluginHost({
    ...{ db, logger, clock, creatorPermissions, exportsDir, store: pluginsStore },
    pluginsDir: resolve(env.PLUGINS_DIR),
    allowPrivate: () => allowPrivate,
    auditHeadSeq: () => audits.service.headSeq(),
  });
  const outbox = createOutbox({ clock });
  const journal = journalOf(deps, outbox, auditKeys);
  const changeDeps = { journal, helpers, outbox, ids, logger, hooks: host };
  const [change, changeAll] = [createChange(changeDeps), createChangeAll(changeDeps)];
  const record = createRecordAudit({ journal, ids });
  const settings = () => config.service.get().document;
  const audits = createAuditModule({
    ...{ db, helpers, change, record, clock, settings, keys: auditKeys },
    copyText: database.copyText,
  });
  logSeal(logger, await audits.service.seal(), auditKeys.keyId);

  const config = createConfigModule({
    ...{ db, change, clock, logger },
    ...(deps.configPollMs ? { pollMs: deps.configPollMs } : {}),
  });
  await config.service.init();
  const stopPolling = config.service.startPolling();
  allowPrivate = settings().webhooks.allow_private_targets;
  config.service.onChange((s) => (allowPrivate = s.document.webhooks.allow_private_targets));
  await host.reload();

  const onAccessChange = deps.onAccessChange ?? (() => undefined);
  const roles = createRolesModule({ db, change, ids, clock, onAccessChange });
  const committed = wakes(outbox, database);
  const webhooks = createWebhooksModule({
    ...{ db, helpers, change, ids, clock, logger, settings, creatorPermissions },
    background: database.background,
    outbox: committed,
  });
  const streams = createAuditStreamsModule({
    ...{ db, change, ids, clock, logger, settings, creatorPermissions },
    background: database.background,
    audit: audits.service,
    outbox: committed,
  });
  const changes = { change, changeAll, record };
  const parts = { journal, audits, ...changes, config, settings, roles, webhooks, streams, host };
  const closers = [stopPolling, () => host.close(), webhooks.close, streams.close];
  const relaying = relays(webhooks.worker, streams.relay, host, closers);
  return { ...parts, secrets, pluginsStore, exportsDir, ...relaying };
}

/** The audit secret's two uses: the chain's keys, and the box that seals secrets read back later. */
function keysOf(deps: AppDeps) {
  const secret = deps.auditKey ?? loadAuditSecret(deps.env);
  // Identity providers' client secrets and TOTP seeds are sealed with a key of their own, derived from it.
  return { auditKeys: deriveAuditKeys(secret), secrets: createSecretBox(secret) };
}

/** The journal, grouping commits as GATEHOUSE_GROUP_COMMIT says (auto: SQLite groups, PostgreSQL does not). */
function journalOf(deps: AppDeps, outbox: Outbox, keys: ReturnType<typeof deriveAuditKeys>) {
  const { env, database, clock } = deps;
  return createJournal({
    ...{ db: database.db, helpers: database.helpers, clock, keys },
    onEvents: () => outbox.committed(),
    ...(env.GATEHOUSE_GROUP_COMMIT === 'auto' ? {} : { group: env.GATEHOUSE_GROUP_COMMIT === 'on' }),
  });
}
export type Core = Awaited<ReturnType<typeof buildCore>>;

/** The delivery loops wake on this process's commits, and on other processes' through the database. */
function wakes(outbox: Outbox, database: Database): Pick<Outbox, 'onCommitted'> {
  return {
    onCommitted(listener) {
      const own = outbox.onCommitted(listener);
      const others = database.onOutboxCommit(listener);
      return () => (own(), others());
    },
  };
}

/** Starting and stopping the relays, and closing what the core opened (`closers`, in order). */
function relays(worker: WebhookWorker, streams: StreamRelay, host: PluginHost, closers: (() => unknown)[]) {
  return {
    /**
     * Starts the relays (webhook deliveries, audit streams, plugin after-hooks). The answer stops them: no new
     * work, what is in flight finishes, and their leases are given back.
     */
    startRelays: (): (() => Promise<void>) => {
      worker.start();
      streams.start();
      const stopPlugins = host.start();
      return async () => {
        await Promise.all([worker.stop(), streams.stop(), stopPlugins()]);
      };
    },
    /** Stops the settings poll and closes the plugins' and webhooks' connections (after the relays stopped). */
    close: async (): Promise<void> => {
      for (const close of closers) await close();
    },
  };
}
