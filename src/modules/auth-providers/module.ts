import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { createOutbound } from '../../lib/ssrf-guard.js';
import { undici } from '../../lib/undici.js';
import { providerReadRoutes, providerWriteRoutes, ssoRoutes } from './routes.js';
import { providerAdmin, type AuthProvidersDeps } from './service.js';
import { ssoFlow } from './service-flow.js';
import { createAuthProvidersStore } from './store.js';

/** Identity providers (OIDC single sign-on): their management and the sign-in flow. */
export function createAuthProvidersModule(deps: Omit<AuthProvidersDeps, 'store' | 'fetch'>) {
  // Every call to a provider (discovery, token, userinfo, keys) goes through the SSRF-guarded dispatcher,
  // or the open one while webhooks.allow_private_targets is on, as webhook deliveries do.
  const outbound = createOutbound(() => deps.settings().webhooks.allow_private_targets);
  const fetch = (url: string, init: RequestInit): Promise<Response> =>
    // undici's Response is a Fetch API Response of its own realm; openid-client accepts it (by its tag).
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
    undici().fetch(url, {
      ...(init as Parameters<ReturnType<typeof undici>['fetch']>[1]),
      dispatcher: outbound.dispatcher(),
    });
  const full: AuthProvidersDeps = { ...deps, store: createAuthProvidersStore(), fetch };
  const service = { ...providerAdmin(full), ...ssoFlow(full) };
  /** The origin the callback is at: auth.public_url, else this request's. */
  const origin = (req: FastifyRequest) => deps.settings().auth.public_url ?? `${req.protocol}://${req.host}`;
  return {
    service,
    close: () => outbound.close(),
    routes: async (api: FastifyInstance, ticketLimit: preHandlerAsyncHookHandler) => {
      for (const routes of [providerReadRoutes, providerWriteRoutes])
        await api.register(routes, { prefix: '/auth/providers', providers: service, origin });
      await api.register(ssoRoutes, { providers: service, origin, ticketLimit });
    },
  };
}
export type AuthProvidersService = ReturnType<typeof createAuthProvidersModule>['service'];
