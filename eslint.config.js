// Lint rules, and the architecture's boundary: model code (core, policies, hypervisor, balancer,
// sim) must run unchanged in virtual time, so it may not reach for HTTP, express, the proxy or
// metrics. The boundary is drawn by folder: whatever lives in these folders is model code.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const transportModules = ['node:http', 'http', 'node:https', 'https', 'express', 'http-proxy', 'prom-client', 'undici'];
const modelFolders = ['core', 'policies', 'backends/hypervisor', 'dispatcher/balancer', 'sim'];

export default tseslint.config(
  { ignores: ['.cache/**', 'dist/**', 'dist-check/**', 'coverage/**', 'node_modules/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: modelFolders.map((folder) => `${folder}/**/*.ts`),
    rules: {
      'no-restricted-imports': ['error', {
        paths: transportModules.map((name) => ({ name, message: 'Model code is transport-neutral (DESIGN.md boundaries).' })),
      }],
      'no-restricted-globals': ['error',
        { name: 'setInterval', message: 'Model code waits only through Clock.schedule.' },
        { name: 'setTimeout', message: 'Model code waits only through Clock.schedule.' }],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'Model code reads time only through Clock.now.' },
        { object: 'Math', property: 'random', message: 'Randomness comes from the injected seeded Rng.' }],
    },
  },
);
