import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
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
  {
    files: ['src/config/**', 'test/**', 'scripts/**', 'vitest.config.ts', 'bench/**'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
