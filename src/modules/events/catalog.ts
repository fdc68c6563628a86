/**
 * The one vocabulary of actions and event types, `<resource>.<verb>` in the present tense. A change's
 * audit action and its event type are the same string. `event: true` marks the actions that emit an event
 * (successful changes); the rest name reads and denials in the audit log.
 */
export const catalog = {
  'user.create': { event: true, description: 'A user was created.' },
  'user.update': {
    event: true,
    description: 'A user was changed (username, email, display name, kind, disabled).',
  },
  'user.delete': { event: true, description: 'A user was deleted; its tokens stop working.' },
  'user.list': { event: false, description: 'Users were listed.' },
  'user.read': { event: false, description: 'A user was read.' },
  'role.create': { event: true, description: 'A role was created.' },
  'role.update': { event: true, description: 'A role was changed (name, description, permissions).' },
  'role.delete': { event: true, description: 'A role was deleted; its members lost its permissions.' },
  'role.assign': { event: true, description: 'A user was given a role.' },
  'role.unassign': { event: true, description: 'A role was taken from a user.' },
  'role.list': { event: false, description: 'Roles were listed.' },
  'role.read': { event: false, description: 'A role was read.' },
  'role.list_members': { event: false, description: 'The members of a role were listed.' },
  'role.list_of_user': { event: false, description: 'The roles of a user were listed.' },
  'token.create': { event: true, description: 'An API token was created (the secret is never included).' },
  'token.rotate': { event: true, description: 'An API token got a new secret.' },
  'token.revoke': { event: true, description: 'An API token was revoked.' },
  'token.list': { event: false, description: 'Tokens were listed.' },
  'token.read': { event: false, description: 'A token was read.' },
  'auth.login': { event: false, description: 'A console sign-in, successful or not.' },
  'auth.logout': { event: false, description: 'A console session was ended.' },
  'auth.me': { event: false, description: 'A caller read its own identity.' },
  'admin.recover': {
    event: false,
    description:
      'A break-glass admin token was issued with `gatehouse admin recover` on the database host (the operator is in the detail; the token itself is its own token.create event).',
  },
  'auth.mfa.read': { event: false, description: 'A person listed its own second factors.' },
  'auth.mfa.enrol': {
    event: false,
    description: 'A person started enrolling a second factor (TOTP or passkey); never the seed.',
  },
  'auth.mfa.confirm': { event: false, description: 'A second factor was confirmed and is now active.' },
  'auth.mfa.remove': { event: false, description: 'A person removed one of its own second factors.' },
  'auth.mfa.reset': { event: false, description: "An admin removed all of another user's second factors." },
  'auth.mfa.recovery_codes': {
    event: false,
    description: 'A person replaced its recovery codes (never the codes themselves).',
  },
  'auth.mfa.challenge': { event: false, description: 'A passkey challenge was issued for a sign-in step.' },
  'auth.sso.start': {
    event: false,
    description: 'A single sign-on began: the browser was sent to a provider.',
  },
  'auth.sso.login': {
    event: false,
    description: 'A single sign-on came back from the provider: signed in, or denied with the reason.',
  },
  'auth.sso.exchange': {
    event: false,
    description: 'A single sign-on ticket was exchanged for a console session, or refused.',
  },
  'auth.methods': { event: false, description: 'The sign-in methods were read (sign-in page).' },
  'auth_provider.create': {
    event: true,
    description: 'An identity provider was created (never its client secret).',
  },
  'auth_provider.update': {
    event: true,
    description: 'An identity provider was changed (never its client secret).',
  },
  'auth_provider.delete': { event: true, description: 'An identity provider was deleted.' },
  'auth_provider.list': { event: false, description: 'Identity providers were listed.' },
  'auth_provider.read': { event: false, description: 'An identity provider was read.' },
  'audit.query': { event: false, description: 'The audit log was queried.' },
  'audit.read': { event: false, description: 'One audit event was read.' },
  'audit.export': { event: false, description: 'The audit log was exported.' },
  'audit.verify': { event: false, description: 'The audit chain was verified.' },
  'audit.checkpoint': {
    event: false,
    description: "A signed checkpoint of the audit chain's head was exported.",
  },
  'audit.seal': {
    event: false,
    description:
      'The audit chain got its key: links from this event on are HMAC-SHA256, older ones stay SHA-256.',
  },
  'audit.purge': {
    event: true,
    description: "Events older than the retention period were deleted; the chain's anchor moved.",
  },
  'config.update': {
    event: true,
    description: 'The settings document changed (PUT, PATCH or rollback); carries the diff.',
  },
  'config.read': { event: false, description: 'The settings were read.' },
  'config.history': { event: false, description: 'The settings history was read.' },
  'config.read_version': { event: false, description: 'An old settings version was read.' },
  'config.read_schema': { event: false, description: 'The settings schema was read.' },
  'config.export': {
    event: false,
    description: 'The declarative state was exported (GET /api/export; never a secret).',
  },
  'config.export_schema': { event: false, description: 'The JSON Schema of the state document was read.' },
  'config.apply': {
    event: true,
    description:
      'A state document was applied (POST /api/apply): ties the changes made, each its own event, by their ids.',
  },
  'config.plan': {
    event: false,
    description: 'A state document was planned against the current state (nothing written).',
  },
  'webhook.create': { event: true, description: 'A webhook endpoint was created (never its secret).' },
  'webhook.update': { event: true, description: 'A webhook endpoint was changed.' },
  'webhook.delete': { event: true, description: 'A webhook endpoint was deleted.' },
  'webhook.rotate_secret': { event: true, description: 'A webhook endpoint got a new signing secret.' },
  'webhook.disable': {
    event: true,
    description: 'The server disabled a webhook endpoint (410 Gone, or failing too long).',
  },
  'webhook.retry': { event: false, description: 'A delivery was queued again by hand.' },
  'webhook.recover': {
    event: false,
    description: 'The events of a time window were queued again for an endpoint.',
  },
  'webhook.test': { event: false, description: 'A webhook.test event was sent to one endpoint.' },
  'webhook.list': { event: false, description: 'Webhook endpoints were listed.' },
  'webhook.read': { event: false, description: 'A webhook endpoint was read.' },
  'webhook.list_deliveries': { event: false, description: 'The deliveries of an endpoint were listed.' },
  'audit_stream.create': {
    event: true,
    description: 'An audit stream was created (never its secret).',
  },
  'audit_stream.update': {
    event: true,
    description: 'An audit stream was changed (name, url, actions, status).',
  },
  'audit_stream.delete': { event: true, description: 'An audit stream was deleted.' },
  'audit_stream.resume': {
    event: true,
    description: 'An audit stream was set active again, optionally replaying from a seq.',
  },
  'audit_stream.pause': {
    event: true,
    description: 'The server paused an audit stream whose receiver kept failing (its last error says why).',
  },
  'audit_stream.list': { event: false, description: 'Audit streams were listed.' },
  'audit_stream.read': { event: false, description: 'An audit stream was read.' },
  'plugin.register': { event: true, description: 'A plugin was registered.' },
  'plugin.configure': {
    event: true,
    description: "A plugin's config changed (writeOnly fields never included).",
  },
  'plugin.enable': { event: true, description: 'A plugin was enabled.' },
  'plugin.disable': { event: true, description: 'A plugin was disabled.' },
  'plugin.unregister': { event: true, description: 'A plugin was unregistered.' },
  'plugin.list': { event: false, description: 'Plugins were listed.' },
  'plugin.read': { event: false, description: 'A plugin was read.' },
  'event.list_types': { event: false, description: 'The event type catalogue was read.' },
  'openapi.read': { event: false, description: 'The OpenAPI document was read.' },
  'api.not_found': { event: false, description: 'A request to an unknown API path.' },
} as const satisfies Record<string, { event: boolean; description: string }>;

export type Action = keyof typeof catalog;

export function isAction(value: string): value is Action {
  return Object.hasOwn(catalog, value);
}

/** The actions that are also event types, for `GET /api/events/types` and webhook subscriptions. */
export function eventTypes(): { type: Action; description: string }[] {
  return (Object.keys(catalog) as Action[])
    .filter((type) => catalog[type].event)
    .map((type) => ({ type, description: catalog[type].description }));
}

/**
 * The read permission an event's resource needs (`user.create` → `users:read`): a subscriber (webhook
 * endpoint, plugin after-hook or audit feed) receives an event only while its creator holds it. A type of no
 * resource listed here (`auth.login`, `api.not_found`, a future resource until it is added) needs
 * `audit:read`: only the audit log shows it.
 */
const readScopes = new Map(
  Object.entries({
    user: 'users:read',
    role: 'roles:read',
    token: 'tokens:read',
    config: 'config:read',
    webhook: 'webhooks:read',
    plugin: 'plugins:read',
    audit: 'audit:read',
    audit_stream: 'audit:read',
    auth_provider: 'auth:read',
  }),
);

export function readScopeOf(type: string): string {
  return readScopes.get(type.slice(0, type.indexOf('.'))) ?? 'audit:read';
}
