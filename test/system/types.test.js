'use strict';
// The published types: a consumer written against 'socket-knobs' compiles under strict TypeScript,
// and the misuses marked @ts-expect-error in it are still rejected.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

test('test/types/consumer.ts type-checks against the package .d.ts files', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', path.join(__dirname, '..', 'fixtures', 'types', 'tsconfig.json')], { encoding: 'utf8', timeout: 60000 });
  expect(run.stdout + run.stderr).toBe('');
  expect(run.status).toBe(0);
}, 60000);
