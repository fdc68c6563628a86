// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'test-results/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
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
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/db/dialects/sqlite.js', '**/db/dialects/postgres.js'],
              message: 'Only src/db/* may import a dialect (STYLE §8).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/db/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['src/modules/*/routes.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
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
            {
              group: ['fastify', '**/http/*', './service.js'],
              message: 'store.ts speaks SQL only (STYLE §14).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/modules/**', 'src/http/**'],
    ignores: ['src/modules/journal/store.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "CallExpression[callee.property.name='insertInto'][arguments.0.value=/^(audit_events|outbox)$/]",
          message:
            'Audit rows and outbox events are written by the journal only (src/modules/journal/store.ts).',
        },
      ],
    },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: {
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
              regex: '^(\\.\\./)+src/(?!client/)',
              message: 'ui/ imports from src/ only src/client/ (STYLE §14).',
            },
          ],
        },
      ],
      // Pages are components: a form with its fields reads better as one function than split to fit a count.
      'max-lines-per-function': ['warn', { max: 120, skipBlankLines: true, skipComments: true }],
    },
  },
  { files: ['src/client/schema.ts'], rules: { 'max-lines': 'off' } },
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
