import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/', 'bench/results/', '.venv-bench/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: { ...globals.node } } },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read configuration through src/config; nothing else reads process.env.',
        },
      ],
    },
  },
  { files: ['dashboard/**/*.js'], languageOptions: { globals: { ...globals.browser } } },
  {
    files: ['src/config/**', 'test/**', 'scripts/**', 'vitest.config.ts', 'bench/**'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
