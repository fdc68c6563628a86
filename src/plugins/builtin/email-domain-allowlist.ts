import { definePlugin } from '../define.js';

type Config = { domains?: string[]; require_email?: boolean };

/** Emails must belong to one of the allowed domains (subdomains included). */
export default definePlugin<Config>({
  name: 'email-domain-allowlist',
  version: '1.0.0',
  description: 'Refuses users whose email is outside the allowed domains.',
  hooks: { before: ['user.create', 'user.update'] },
  config_schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      domains: {
        type: 'array',
        items: { type: 'string', pattern: '^[a-z0-9.-]+\\.[a-z]{2,}$' },
        maxItems: 1000,
      },
      require_email: { type: 'boolean', description: 'Refuse new users without an email.' },
    },
  },
  timeout_ms: 100,
  failure_policy: 'fail',
  order: 20,
  before({ action, input }, { config }) {
    const email = input.email;
    if (email === undefined || email === null) {
      return config.require_email && action === 'user.create'
        ? { allow: false, reason: 'an email is required' }
        : { allow: true };
    }
    const domain = (typeof email === 'string' ? email : '').toLowerCase().split('@').pop() ?? '';
    const allowed = (config.domains ?? []).some((d) => domain === d || domain.endsWith(`.${d}`));
    return allowed ? { allow: true } : { allow: false, reason: `email domain ${domain} is not allowed` };
  },
});
