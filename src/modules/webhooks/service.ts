import { deliveryReads, deliveryResends, retention, testSends } from './service-deliveries.js';
import { endpointHealth, endpointReads, endpointUpdates, endpointWrites } from './service-endpoints.js';
import { endpointChecks, type WebhooksDeps } from './service-shared.js';

export { SECRET_OVERLAP_MS } from './service-endpoints.js';
export { TESTS_PER_WINDOW } from './service-deliveries.js';

/**
 * The webhooks service, one sub-factory per use case: endpoints (read, write, update, the server's disable)
 * and deliveries (read, resend, test, retention), sharing the endpoint checks.
 */
export function createWebhooksService(deps: WebhooksDeps) {
  const shared = endpointChecks(deps);
  return {
    ...endpointWrites(deps, shared),
    ...endpointReads(deps, shared),
    ...endpointUpdates(deps, shared),
    ...deliveryReads(deps, shared),
    ...deliveryResends(deps, shared),
    ...testSends(deps, shared),
    ...retention(deps),
    ...endpointHealth(deps),
  };
}
export type WebhooksService = ReturnType<typeof createWebhooksService>;
