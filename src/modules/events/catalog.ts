/**
 * The one vocabulary of actions and event types, `<resource>.<verb>` in the present tense. A change's
 * audit action and its event type are the same string. `event: true` marks the actions that emit an event
 * (successful changes); the rest name reads and denials in the audit log.
 */
export const catalog = {
  'user.create': { event: true, description: 'A user was created.' },
  'user.update': { event: true, description: 'A user was changed (username, email, display name, kind, disabled).' },
  'user.delete': { event: true, description: 'A user was deleted; its tokens stop working.' },
  'user.list': { event: false, description: 'Users were listed.' },
  'user.read': { event: false, description: 'A user was read.' },
  'token.create': { event: true, description: 'An API token was created (the secret is never included).' },
  'token.rotate': { event: true, description: 'An API token got a new secret.' },
  'token.revoke': { event: true, description: 'An API token was revoked.' },
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
