/** Who is acting: set by authentication from a valid token, never from anything else a caller sends. */
export type Principal = {
  userId: string;
  username: string;
  tokenId: string;
  /** `token` for API tokens (`gth_`), `session` for console sessions (`gts_`). */
  tokenKind: 'token' | 'session';
  /** Effective scopes: the token's, narrowed by its owner's current permissions. */
  scopes: readonly string[];
  /**
   * The owner's current permissions (its roles'), of which `scopes` may be a narrower part: what a
   * subscription it creates is filtered by, so a narrow token must not create one reaching beyond `scopes`.
   */
  ownerScopes: readonly string[];
  /** The owner's roles, for per-role rate limits. */
  roleIds: readonly string[];
  expiresAt: number | null;
  /**
   * A session whose user must enrol a second factor first (setting `auth.require_mfa_for_roles`): it may
   * reach only the routes marked `beforeMfa`.
   */
  mustEnrolMfa?: boolean;
};

/** Built once per request and passed to every service call; services never see Fastify objects. */
export type RequestCtx = {
  requestId: string;
  ip: string | null;
  userAgent: string | null;
  principal: Principal | null;
  /** `system` for work the server does on its own. */
  system?: boolean;
  /** Set once an audit row was written for this request, so the denial hook does not write a second. */
  audited?: boolean;
  /** An Idempotency-Key in flight: `change()` stores the answer with the change, in its transaction. */
  idempotency?: { actor: string; key: string; status: number; stored?: boolean };
};

/** The context for work the server does on its own: actor `system`. */
export function systemCtx(requestId = 'system'): RequestCtx {
  return { requestId, ip: null, userAgent: null, principal: null, system: true };
}

/** The audit actor for a context: `system`, a user id, or `anonymous`. */
export function actorOf(ctx: RequestCtx): {
  actor: string;
  actorName: string | null;
  tokenId: string | null;
} {
  if (ctx.system) return { actor: 'system', actorName: 'system', tokenId: null };
  if (ctx.principal)
    return { actor: ctx.principal.userId, actorName: ctx.principal.username, tokenId: ctx.principal.tokenId };
  return { actor: 'anonymous', actorName: null, tokenId: null };
}

/** True when the scopes grant `required` (`*` grants everything). */
export function hasScope(scopes: readonly string[], required: string): boolean {
  return scopes.includes('*') || scopes.includes(required);
}
