import type { Migration } from 'kysely/migration';
import * as coreInit from './202611280001_core_init.js';
import * as identity from './202611280002_identity_roles_sessions.js';
import * as config from './202611280003_config_versions.js';
import * as webhooks from './202611280004_webhooks.js';
import * as plugins from './202611280005_plugins.js';
import * as idempotency from './202611280006_idempotency_keys.js';
import * as deliveryRetention from './202612010001_delivery_retention.js';
import * as outboxUndispatched from './202612010002_outbox_undispatched.js';
import * as auditKeyedChain from './202612020100_audit_keyed_chain.js';
import * as subscriptionCreators from './202612020201_subscription_creators.js';
import * as pluginsAfterLease from './202612020700_plugins_after_lease.js';
import * as auditStreams from './202612020730_audit_streams.js';
import * as authProviders from './202612021100_auth_providers.js';
import * as mfa from './202612021110_mfa.js';
import * as auditorReadsAuth from './202612021230_auditor_reads_auth.js';
import * as usersDisplayNameKey from './202612021800_users_display_name_key.js';

/** Every migration, by name; names sort in the order they run. Append only. */
export const migrations: Record<string, Migration> = {
  '202611280001_core_init': coreInit,
  '202611280002_identity_roles_sessions': identity,
  '202611280003_config_versions': config,
  '202611280004_webhooks': webhooks,
  '202611280005_plugins': plugins,
  '202611280006_idempotency_keys': idempotency,
  '202612010001_delivery_retention': deliveryRetention,
  '202612010002_outbox_undispatched': outboxUndispatched,
  '202612020100_audit_keyed_chain': auditKeyedChain,
  '202612020201_subscription_creators': subscriptionCreators,
  '202612020700_plugins_after_lease': pluginsAfterLease,
  '202612020730_audit_streams': auditStreams,
  '202612021100_auth_providers': authProviders,
  '202612021110_mfa': mfa,
  '202612021230_auditor_reads_auth': auditorReadsAuth,
  '202612021800_users_display_name_key': usersDisplayNameKey,
};
