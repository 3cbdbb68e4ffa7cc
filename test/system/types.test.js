'use strict';
// The published types: a consumer written against 'socket-knobs' compiles under strict TypeScript,
// and the misuses marked @ts-expect-error in it are still rejected.
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { EMULATED, testIf } = require('../helpers');

// The .d.ts files are the same on every architecture; under qemu-user (npm run test:arm64) tsc alone
// runs past a minute, and the x64 runs already check them.
const reason = EMULATED ? 'the type check does not depend on the architecture; it runs on x64, not under qemu-user' : null;

testIf(
  reason,
  'test/fixtures/types/consumer.ts type-checks against the package .d.ts files',
  () => {
    const tsc = require.resolve('typescript/bin/tsc');
    const run = spawnSync(process.execPath, [tsc, '-p', path.join(__dirname, '..', 'fixtures', 'types', 'tsconfig.json')], {
      encoding: 'utf8',
      timeout: 60000,
    });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  },
  60000,
);
