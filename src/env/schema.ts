import { Type, type Static } from 'typebox';

/** The process settings, and the only ones: a new variable is a DESIGN.md change first. */
export const EnvSchema = Type.Object(
  {
    PORT: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 8080,
      description: 'TCP port the server listens on.',
    }),
    HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Address the server binds to.' }),
    DATA_DIR: Type.String({
      minLength: 1,
      default: './data',
      description:
        'Folder for the embedded SQLite database, and for audit.key unless GATEHOUSE_AUDIT_KEY is set.',
    }),
    DATABASE_URL: Type.Optional(
      Type.String({
        pattern: '^(postgres|postgresql|sqlite)://',
        description:
          'postgres://user@host:5432/db for PostgreSQL; unset means SQLite at DATA_DIR/gatehouse.db.',
      }),
    ),
    REDIS_URL: Type.Optional(
      Type.String({
        pattern: '^rediss?://',
        description: 'redis://host:6379 to share rate-limit counters across instances.',
      }),
    ),
    LOG_LEVEL: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'pino log level.' },
    ),
    PLUGINS_DIR: Type.String({
      minLength: 1,
      default: './plugins',
      description: 'Folder holding module plugins.',
    }),
    GATEHOUSE_BOOTSTRAP_TOKEN: Type.Optional(
      Type.String({
        pattern: '^gth_[0-9A-Za-z]{38}$',
        description: 'Admin token to create on first start with an empty database, instead of a random one.',
      }),
    ),
    GATEHOUSE_AUDIT_KEY: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9+/_-]{43,}={0,2}$',
        description:
          'Audit chain secret, base64 of at least 32 bytes (openssl rand -base64 32): keys the chain (HMAC) and signs checkpoints. ' +
          'Unset: DATA_DIR/audit.key, created on first start with mode 0600. Every instance on one database needs the same key.',
      }),
    ),
    GATEHOUSE_GROUP_COMMIT: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')], {
      default: 'auto',
      description:
        'Whether changes that arrive together share one transaction (each in a savepoint). auto: on for SQLite, ' +
        'off for PostgreSQL, where each change commits on a connection of its own (bench/RESULTS.md, "Journal").',
    }),
  },
  { additionalProperties: true },
);

export type Env = Readonly<Static<typeof EnvSchema>>;
