/**
 * The plugin API, versioned on its own: a module plugin default-exports `definePlugin({...})` and gets a
 * narrow context (its config and a logger), never the Fastify instance or the database. Module plugins are
 * trusted code an operator installed on the server; the API only activates and configures them.
 */
export type PluginManifest = {
  name: string;
  version: string;
  description?: string;
  hooks?: {
    /** Actions this plugin may veto before they happen (`user.create`, `role.assign`, …). */
    before?: string[];
    /** Event types it receives after they commit (`user.*`, `*`), at least once, in commit order. */
    after?: string[];
  };
  /** JSON Schema (2020-12) of its config; fields marked `writeOnly` are never shown again. */
  config_schema?: Record<string, unknown>;
  timeout_ms?: number;
  failure_policy?: 'fail' | 'ignore';
  order?: number;
  /** Receive every audit event (denials and sign-ins included), not only committed changes. */
  audit_stream?: boolean;
};

export type BeforeInput = {
  action: string;
  target: { type: string; id: string | null };
  /** The request's input, secrets removed. */
  input: Record<string, unknown>;
  actor: { id: string; name: string | null };
};

export type Verdict = { allow: true } | { allow: false; reason: string };

export type AfterEvent = {
  id: string;
  seq: number;
  type: string;
  timestamp: string;
  outcome: string;
  actor: string;
  data: unknown;
  detail: string | null;
};

/**
 * Where a plugin may write and send, from the process settings (never from the API): files only under
 * `exportsDir` (`<DATA_DIR>/exports`); network targets through the SSRF guard unless `allowPrivateTargets`
 * (`webhooks.allow_private_targets`).
 */
export type PluginEnv = { exportsDir: string; allowPrivateTargets: boolean };

export type PluginContext<C> = {
  config: C;
  env: PluginEnv;
  log: { info(msg: string, extra?: object): void; warn(msg: string, extra?: object): void };
};

/** A config a plugin refuses beyond its schema (`validate`): `pointer` is a JSON Pointer into the config. */
export class PluginConfigError extends Error {
  constructor(
    readonly pointer: string,
    message: string,
  ) {
    super(message);
    this.name = 'PluginConfigError';
  }
}

export type PluginDefinition<C = Record<string, unknown>> = PluginManifest & {
  before?: (input: BeforeInput, ctx: PluginContext<C>) => Verdict | Promise<Verdict>;
  after?: (event: AfterEvent, ctx: PluginContext<C>) => void | Promise<void>;
  /** Checks a config before it is saved, beyond its schema (outbound targets): throws `PluginConfigError` (a 400). */
  validate?: (config: C, env: PluginEnv) => void | Promise<void>;
};

export function definePlugin<C = Record<string, unknown>>(
  definition: PluginDefinition<C>,
): PluginDefinition<C> {
  return definition;
}
