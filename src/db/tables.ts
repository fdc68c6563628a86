import type { Kysely, Transaction } from 'kysely';

/**
 * Row types as stored. Portable columns (STYLE §8): timestamps are epoch milliseconds, booleans are
 * `boolean` on PostgreSQL and 0/1 on SQLite, JSON is `jsonb` or text. Stores turn rows into API objects
 * through `codecs.ts`.
 */
export type UsersTable = {
  id: string;
  username: string;
  email: string | null;
  display_name: string | null;
  /** `display_name` in NFKC lower case ('' for none): what the user search and the display-name sort use. */
  display_name_key?: string;
  kind: 'human' | 'service';
  disabled: boolean | number;
  password_hash: string | null;
  created_at: number;
  updated_at: number;
  /** The subject at the identity provider `provider_id` (OIDC `sub`); both null for a local user. */
  external_id?: string | null;
  provider_id?: string | null;
};

export type TokensTable = {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  secret_hash: string;
  scopes: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  /** After a rotation, the old secret's hash stays valid until `prev_valid_until`. */
  prev_secret_hash: string | null;
  prev_valid_until: number | null;
};

export type RolesTable = {
  id: string;
  name: string;
  description: string;
  permissions: string;
  builtin: boolean | number;
  created_at: number;
  updated_at: number;
};

export type UserRolesTable = { user_id: string; role_id: string; created_at: number };

export type SessionsTable = {
  id: string;
  user_id: string;
  secret_hash: string;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
  ip: string | null;
  user_agent: string | null;
};

export type AuditEventsTable = {
  seq: number;
  id: string;
  ts: number;
  actor: string;
  actor_name: string | null;
  token_id: string | null;
  action: string;
  resource: string;
  verb: string;
  target_type: string | null;
  target_id: string | null;
  outcome: 'success' | 'denied' | 'error';
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
  changes: string | null;
  detail: string | null;
  prev_hash: string;
  hash: string;
};

/** One row, id 1: the chain head. Locking it serialises appends, so `seq` order is commit order. */
export type AuditHeadTable = {
  id: number;
  seq: number;
  hash: string;
  /** The newest event's time: `ts` never goes backwards along `seq`, so a time range is a seq range. */
  ts: number;
  /** The last purged event: the chain's first remaining link points at its hash. */
  anchor_seq: number;
  anchor_hash: string;
  /**
   * The first seq whose link is an HMAC with the audit key; older links (written before the chain had a key)
   * are plain SHA-256. Null until the first start with a key seals it (`keyed_mac`, `key_id`).
   */
  keyed_from: number | null;
  /** HMAC of `keyed_from` with the chain key, so it cannot be moved without the key. */
  keyed_mac: string | null;
  /** The key id (`AuditKeys.keyId`) of the key that sealed the chain: named when another key is found. */
  key_id: string | null;
};

/** One event per successful change, written in the change's transaction; `id` is its audit row's id. */
export type OutboxTable = {
  id: string;
  type: string;
  data: string;
  created_at: number;
  dispatched_at: number | null;
};

export type ConfigVersionsTable = {
  version: number;
  document: string;
  diff: string;
  created_at: number;
  actor: string;
  actor_name: string | null;
};

export type WebhooksTable = {
  id: string;
  url: string;
  description: string;
  events: string;
  enabled: boolean | number;
  secret: string;
  prev_secret: string | null;
  prev_secret_until: number | null;
  retry_schedule_s: string | null;
  timeout_s: number | null;
  failing_since: number | null;
  disabled_reason: string | null;
  created_at: number;
  updated_at: number;
  /** The user whose current read permissions filter what the endpoint receives; null: it receives nothing. */
  created_by: string | null;
};

export type DeliveryStatus = 'pending' | 'delivering' | 'succeeded' | 'failed';

export type DeliveriesTable = {
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number;
  lock_token: string | null;
  locked_until: number | null;
  last_error: string | null;
  last_status_code: number | null;
  created_at: number;
  updated_at: number;
};

export type DeliveryAttemptsTable = {
  id: string;
  delivery_id: string;
  attempted_at: number;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  response_excerpt: string | null;
};

/** An audit stream: a receiver of the audit log in `seq` order, with its cursor and its relay's lease. */
export type AuditStreamsTable = {
  id: string;
  name: string;
  url: string;
  /** JSON list of audit action patterns (`user.create`, `user.*`, `create`); null: every event. */
  actions: string | null;
  /** Kept readable: every batch is signed with it (HMAC). Never returned but on create. */
  secret: string;
  status: 'active' | 'paused';
  /** The last seq the receiver acknowledged with a 2xx (or that the stream's filter passed over). */
  last_seq: number;
  last_error: string | null;
  /** Consecutive failed attempts; the stream pauses itself at MAX_FAILURES. */
  failures: number;
  /** Epoch ms before which the relay does not try the stream (backoff after a failure). */
  next_attempt_at: number;
  /** The relay holding the lease, and until when (epoch ms); null when free. */
  lock_token: string | null;
  locked_until: number | null;
  /** The user whose current `audit:read` the stream needs at delivery; null: it delivers nothing. */
  created_by: string | null;
  created_at: number;
  updated_at: number;
};

export type PluginsTable = {
  id: string;
  name: string;
  kind: 'module' | 'http';
  url: string | null;
  manifest: string;
  enabled: boolean | number;
  config: string;
  config_version: number;
  secret: string | null;
  after_seq: number;
  created_at: number;
  updated_at: number;
  /** The user whose current read permissions filter its after-hooks and audit feed; null: it receives nothing. */
  created_by: string | null;
  /** The relay holding the lease on `after_seq` (null: free), and when that lease runs out (epoch ms). */
  after_lock_token?: string | null;
  after_locked_until?: number | null;
};

export type PluginConfigsTable = {
  plugin_id: string;
  version: number;
  config: string;
  created_at: number;
  actor: string;
};

export type IdempotencyKeysTable = {
  actor: string;
  key: string;
  request_hash: string;
  status: number | null;
  response: string | null;
  created_at: number;
  completed_at: number | null;
};

export type MfaFactorsTable = {
  id: string;
  user_id: string;
  kind: 'totp' | 'webauthn';
  name: string;
  status: 'pending' | 'active';
  /** TOTP: the seed, sealed with the secret box at `mfa_factors.secret:<id>`. */
  secret: string | null;
  last_step: number | null;
  credential_id: string | null;
  public_key: string | null;
  counter: number | null;
  /** JSON array of transport names. */
  transports: string | null;
  created_at: number;
  confirmed_at: number | null;
  last_used_at: number | null;
};

export type MfaRecoveryCodesTable = {
  user_id: string;
  code_hash: string;
  created_at: number;
  used_at: number | null;
};

export type MfaChallengesTable = {
  token_hash: string;
  user_id: string;
  kind: 'login' | 'webauthn_register';
  challenge: string | null;
  attempts: number;
  created_at: number;
  expires_at: number;
  used_at: number | null;
};

/** An identity provider (OIDC). `client_secret` is sealed (secret box, `auth_providers.client_secret:<id>`). */
export type AuthProvidersTable = {
  id: string;
  name: string;
  issuer: string;
  client_id: string;
  client_secret: string;
  /** JSON list of scopes requested. */
  scopes: string;
  /** JSON list of `{claim, contains | equals, role}` (role by name). */
  role_mapping: string;
  jit: boolean | number;
  /** JSON list of role names given to a user created on first sign-in. */
  default_roles: string;
  /** JSON list of email domains allowed to sign in; null: any. */
  email_domains: string | null;
  enabled: boolean | number;
  created_by: string | null;
  created_at: number;
  updated_at: number;
};

/** An SSO sign-in from `start` to the ticket exchange (state hashed, PKCE verifier sealed). */
export type AuthSsoAttemptsTable = {
  state_hash: string;
  provider_id: string;
  nonce: string;
  code_verifier: string;
  redirect_uri: string;
  return_to: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  ticket_hash: string | null;
  user_id: string | null;
  ticket_expires_at: number | null;
  ticket_used_at: number | null;
};

export type Tables = {
  mfa_factors: MfaFactorsTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  mfa_challenges: MfaChallengesTable;
  auth_providers: AuthProvidersTable;
  auth_sso_attempts: AuthSsoAttemptsTable;
  idempotency_keys: IdempotencyKeysTable;
  plugins: PluginsTable;
  audit_streams: AuditStreamsTable;
  plugin_configs: PluginConfigsTable;
  webhooks: WebhooksTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  config_versions: ConfigVersionsTable;
  users: UsersTable;
  tokens: TokensTable;
  roles: RolesTable;
  user_roles: UserRolesTable;
  sessions: SessionsTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  outbox: OutboxTable;
};

/** What a store function takes first: the database, or a transaction, which is also one. */
export type Queryable = Kysely<Tables>;
export type Trx = Transaction<Tables>;
