import { Type, type Static } from 'typebox';

/** The process settings, and the only ones: a new variable is a DESIGN.md change first. */
export const EnvSchema = Type.Object(
  {
    PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'TCP port the server listens on.' }),
    HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Address the server binds to.' }),
    DATA_DIR: Type.String({ minLength: 1, default: './data', description: 'Folder for the embedded SQLite database.' }),
    DATABASE_URL: Type.Optional(
      Type.String({
        pattern: '^(postgres|postgresql|sqlite)://',
        description: 'postgres://user@host:5432/db for PostgreSQL; unset means SQLite at DATA_DIR/gatehouse.db.',
      }),
    ),
    REDIS_URL: Type.Optional(
      Type.String({ pattern: '^rediss?://', description: 'redis://host:6379 to share rate-limit counters across instances.' }),
    ),
    LOG_LEVEL: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'pino log level.' },
    ),
    PLUGINS_DIR: Type.String({ minLength: 1, default: './plugins', description: 'Folder holding module plugins.' }),
    GATEHOUSE_BOOTSTRAP_TOKEN: Type.Optional(
      Type.String({
        pattern: '^gth_[0-9A-Za-z]{38}$',
        description: 'Admin token to create on first start with an empty database, instead of a random one.',
      }),
    ),
  },
  { additionalProperties: true },
);

export type Env = Readonly<Static<typeof EnvSchema>>;
