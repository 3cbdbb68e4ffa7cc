// npm run lint (scripts/lint.js runs this, prettier and clang-format). Recommended rules of ESLint
// and typescript-eslint; formatting is prettier's business, not the linter's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'prebuilds/', 'node_modules/', 'bench/out/', 'lib/options/tcpinfo.gen.ts'] },
  js.configs.recommended,
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node, ...globals.jest } },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  { files: ['**/*.mjs'], languageOptions: { sourceType: 'module' } },
  ...tseslint.configs.recommended.map((config) => ({ ...config, files: ['lib/**/*.ts', 'lib/**/*.mts', 'test/**/*.ts'] })),
  {
    files: ['lib/**/*.ts', 'lib/**/*.mts'],
    rules: {
      // lib/ uses `import x = require()` (CommonJS output) and require() for lazily loaded modules.
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
);
