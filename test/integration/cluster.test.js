'use strict';
// listen() inside cluster workers: each worker owns its listening socket (Node routes
// `listen({ fd })` to the primary, which fails with EEXIST or serves the primary's own socket
// under that number). Real cluster processes; see test/fixtures/cluster/primary.js.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const LINUX = process.platform === 'linux';

function runPrimary(mode) {
  const run = spawnSync(process.execPath, [path.join(__dirname, '..', 'fixtures', 'cluster', 'primary.js'), mode], { encoding: 'utf8', timeout: 60000 });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').pop());
}

(LINUX ? test : test.skip)(
  'reusePort: both workers listen on one port, the kernel spreads 200 connections, and each accepted socket inherits the tuning',
  () => {
    const result = runPrimary('reuse');
    expect(result.error).toBeUndefined();
    expect(result.second).toEqual({ cmd: 'listening', port: result.first.port });
    console.log(`cluster with reusePort: worker 1 served ${result.served.worker1}, worker 2 served ${result.served.worker2} of 200`);
    expect(Object.keys(result.served).sort()).toEqual(['worker1', 'worker2']);
    expect(result.served.worker1 + result.served.worker2).toBe(200);
    // Each has a share; the split is the kernel's hash of the client ports (98/102 was typical).
    expect(result.served.worker1).toBeGreaterThan(20);
    expect(result.served.worker2).toBeGreaterThan(20);
    for (const tuning of result.tuningsSeen) {
      expect(tuning.keepAlive).toEqual({ enable: true, idle: 61, interval: 11, count: 4 });
      expect(tuning.userTimeout).toBe(45000);
    }
    expect(result.primaryPort).toEqual(['primary']);
  },
  70000,
);

test('without reusePort the second worker gets a typed EADDRINUSE and leaks no fd; the first serves everything', () => {
  const result = runPrimary('exclusive');
  expect(result.error).toBeUndefined();
  expect(result.second).toMatchObject({ cmd: 'failed', name: 'SyscallError', code: 'EADDRINUSE', syscall: 'bind' });
  expect(result.second.fdsAfter).toBe(result.second.fdsBefore);
  expect(result.served).toEqual({ worker1: 200 });
  expect(result.primaryPort).toEqual(['primary']);
}, 70000);
