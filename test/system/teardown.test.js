'use strict';
// A worker pool that terminates workers while they start must not take the process down:
// terminating a worker while it loaded socket-knobs used to abort the whole process from the
// addon's module initialisation (FATAL ERROR ... napi_throw, SIGABRT), within 1 to 47 of 500
// terminations, on Node 20 to 26. Run in a child process so that an abort is seen as one; it runs
// on every Node of `npm run test:node-matrix` and under the sanitizers.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

// Under qemu-user (npm run test:arm64) every worker start is emulated and ten times slower.
const emulated = process.memoryUsage().rss === 0;
const WORKERS = emulated ? 100 : 500;

test(`${WORKERS} workers terminated while loading socket-knobs: the process survives, and the addon still loads afterwards`, () => {
  const run = spawnSync(process.execPath, [path.join(__dirname, '..', 'fuzz', 'worker-teardown.js'), '--workers', String(WORKERS)], {
    encoding: 'utf8',
    timeout: 240000,
  });
  expect(run.stderr).not.toMatch(/FATAL ERROR/);
  expect(run.signal).toBeNull();
  expect(run.status).toBe(0);
  const summary = JSON.parse(run.stdout);
  expect(summary.terminated).toBe(WORKERS);
  expect(summary.last).toBe('loaded');
}, 300000);
