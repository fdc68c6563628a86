// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Only src/db/* knows which dialect runs (STYLE §8). */
const DIALECTS = {
  group: ['**/db/dialects/sqlite.js', '**/db/dialects/postgres.js'],
  message: 'Only src/db/* may import a dialect (STYLE §8).',
};
/** The journal's store and writer are its own: everything else records through its service (issue #17). */
const JOURNAL_INSIDE = {
  group: ['**/journal/store.js', '**/journal/writer.js'],
  message:
    'Record changes through the journal service (src/modules/journal/service.ts), not its store or writer.',
};
/** The core never imports src/http/ (issue #17): HTTP is an edge around it. */
const HTTP = {
  group: ['**/http/*', 'fastify', '@fastify/*'],
  message:
    'The core does not import src/http/ or Fastify: only routes.ts, module.ts, app.ts and src/http/ do.',
};
/** A module takes another module's service, never its store (STYLE §2); types alone may be shared. */
const OTHER_STORES = {
  group: ['../*/store.js', '**/modules/*/store.js'],
  allowTypeImports: true,
  message: "A module never imports another module's store: take its service (STYLE §2).",
};
/** The client package is used by its name, as users use it, never by a path into it (issue #20). */
const CLIENT_PATH = {
  regex: '^(\\.\\./)+packages/',
  message: "Import the typed client by its package name, '@gatehouse/client', not by a path into packages/.",
};

/**
 * Each table is written (insertInto, updateTable, deleteFrom, replaceInto, mergeInto) only by its owner's store.
 * Reads are anyone's through services; migrations and the dialect helpers (src/db/) are outside this rule.
 */
const TABLE_OWNERS = {
  users: ['src/modules/users/store.ts'],
  roles: ['src/modules/roles/store.ts'],
  user_roles: ['src/modules/roles/store.ts'],
  tokens: ['src/modules/tokens/store.ts'],
  sessions: ['src/modules/sessions/store.ts'],
  config_versions: ['src/modules/config/store.ts'],
  idempotency_keys: ['src/modules/idempotency/store.ts'],
  plugins: ['src/modules/plugins/store.ts'],
  plugin_configs: ['src/modules/plugins/store.ts'],
  webhooks: ['src/modules/webhooks/store.ts'],
  deliveries: ['src/modules/webhooks/store.ts'],
  delivery_attempts: ['src/modules/webhooks/store.ts'],
  // The journal appends; the audit module purges by retention and seals the chain's key; the relay marks
  // events dispatched and purges them.
  audit_events: ['src/modules/journal/store.ts', 'src/modules/audit/store.ts'],
  audit_head: ['src/modules/journal/store.ts', 'src/modules/audit/store.ts'],
  outbox: ['src/modules/journal/store.ts', 'src/modules/webhooks/store.ts'],
  audit_streams: ['src/modules/audit-streams/store.ts'],
  mfa_factors: ['src/modules/mfa/store.ts'],
  mfa_recovery_codes: ['src/modules/mfa/store.ts'],
  mfa_challenges: ['src/modules/mfa/store.ts'],
  auth_providers: ['src/modules/auth-providers/store.ts'],
  auth_sso_attempts: ['src/modules/auth-providers/store.ts'],
};
const WRITES = new Set(['insertInto', 'updateTable', 'deleteFrom', 'replaceInto', 'mergeInto']);

/** A local rule: `gatehouse/table-owner`. */
const gatehouse = {
  rules: {
    'table-owner': {
      meta: { type: 'problem', schema: [], messages: { owner: '{{table}} is written only by {{owners}}.' } },
      create(context) {
        const file = context.filename.replace(/\\/g, '/');
        return {
          CallExpression(node) {
            const callee = node.callee;
            const arg = node.arguments[0];
            if (callee.type !== 'MemberExpression' || callee.property.type !== 'Identifier') return;
            if (!WRITES.has(callee.property.name) || arg?.type !== 'Literal' || typeof arg.value !== 'string')
              return;
            const table = arg.value.split(/\s/)[0];
            const owners = TABLE_OWNERS[table];
            if (!owners) {
              context.report({
                node,
                messageId: 'owner',
                data: { table, owners: 'nobody yet: add it to TABLE_OWNERS in eslint.config.js' },
              });
              return;
            }
            if (!owners.some((o) => file.endsWith(`/${o}`)))
              context.report({ node, messageId: 'owner', data: { table, owners: owners.join(' and ') } });
          },
        };
      },
    },
  },
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'packages/*/dist/**',
      'node_modules/**',
      'data/**',
      'coverage/**',
      'test-results/**',
      'bench/out/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { gatehouse },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // Fastify plugins and hooks are async by contract, with or without an await inside.
      '@typescript-eslint/require-await': 'off',
      // Number() at the driver boundary is deliberate: a bigint column may arrive as a string.
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      '@typescript-eslint/no-unnecessary-condition': 'warn',
      'max-lines': ['warn', { max: 300, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['warn', { max: 60, skipBlankLines: true, skipComments: true }],
      'no-restricted-imports': ['error', { patterns: [DIALECTS, JOURNAL_INSIDE, CLIENT_PATH] }],
      'gatehouse/table-owner': 'error',
    },
  },
  {
    files: ['src/db/**'],
    rules: { 'no-restricted-imports': 'off', 'gatehouse/table-owner': 'off' },
  },
  {
    // Migrations are frozen in time (STYLE §8): never edited to fit a size rule.
    files: ['src/db/migrations/**'],
    rules: { 'max-lines-per-function': 'off' },
  },
  {
    // Issue #17: no function in src/ is longer than 60 lines (migrations aside: frozen in time).
    files: ['src/**/*.ts'],
    ignores: ['src/db/migrations/**'],
    rules: { 'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }] },
  },
  {
    // The core (services, stores, the change path, the journal, plugins, lib) speaks no HTTP.
    files: ['src/**/*.ts'],
    ignores: [
      'src/http/**',
      'src/app.ts',
      'src/main.ts',
      'src/db/**',
      'src/modules/*/routes.ts',
      'src/modules/*/module.ts',
      'src/types/**',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [DIALECTS, JOURNAL_INSIDE, HTTP, OTHER_STORES, CLIENT_PATH] },
      ],
    },
  },
  {
    files: ['src/modules/*/routes.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            DIALECTS,
            JOURNAL_INSIDE,
            OTHER_STORES,
            CLIENT_PATH,
            {
              group: ['./store.js', '**/db/*'],
              message: 'routes.ts speaks HTTP only: no store, no db (STYLE §14).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/modules/*/store.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            DIALECTS,
            JOURNAL_INSIDE,
            HTTP,
            OTHER_STORES,
            CLIENT_PATH,
            { group: ['fastify', './service.js'], message: 'store.ts speaks SQL only (STYLE §14).' },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      // Tests and benches set up and tamper with rows directly (a broken chain, a seeded log).
      'gatehouse/table-owner': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      'max-lines-per-function': 'off',
      'max-lines': 'off',
    },
  },
  {
    // The console: a browser bundle that reaches the server only through the typed client (STYLE §14).
    files: ['ui/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(src|packages)/',
              message:
                'ui/ reaches the server only through the typed client: import @gatehouse/client (STYLE §14).',
            },
          ],
        },
      ],
      // Pages are components: a form with its fields reads better as one function than split to fit a count.
      'max-lines-per-function': ['warn', { max: 120, skipBlankLines: true, skipComments: true }],
    },
  },
  { files: ['packages/client/src/schema.ts'], rules: { 'max-lines': 'off' } },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['examples/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      parserOptions: { projectService: false },
      globals: { console: 'readonly', process: 'readonly' },
    },
  },
);
