import type { PluginDefinition } from '../define.js';
import auditForwarder from './audit-forwarder.js';
import emailDomainAllowlist from './email-domain-allowlist.js';
import usernamePolicy from './username-policy.js';

/** The plugins that ship with Gatehouse, registered by name like any installed module plugin. */
export const builtinPlugins: Record<string, PluginDefinition<never>> = {
  'username-policy': usernamePolicy,
  'email-domain-allowlist': emailDomainAllowlist,
  'audit-forwarder': auditForwarder,
};
