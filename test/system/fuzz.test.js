'use strict';
// A short seeded fuzz run of the whole public API (test/fuzz/fuzz.js), in its own process so that
// a crash is seen as a crash: it must exit normally with nothing escaping but SocketOptionErrors.
// The long run is `npm run fuzz` (a million calls).
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { EMULATED, eachIf } = require('../helpers');

// Under qemu-user (npm run test:arm64) each seed takes about 40 s: there seeds 1 and 4 run, one
// plain and one under the flag, which still cross every native entry point on arm64.
const slowEmulator = (seed) => (EMULATED && (seed === 2 || seed === 3) ? 'under qemu-user only seeds 1 and 4 run (about 40 s each)' : null);

eachIf(
  [
    [1, []],
    [2, []],
    [3, []],
    // Under a common hardening flag: nothing may compile code from strings, at load or later.
    [4, ['--disallow-code-generation-from-strings']],
  ],
  slowEmulator,
  'seed %i %j: 20000 random calls, every one returns or throws a SocketOptionError',
  (seed, flags) => {
    const run = spawnSync(process.execPath, [...flags, path.join(__dirname, '..', 'fuzz', 'fuzz.js'), '--seed', String(seed), '--calls', '20000'], {
      encoding: 'utf8',
      timeout: 120000,
    });
    expect(run.signal).toBeNull();
    expect(run.status).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.escapes).toEqual([]);
    expect(summary.escaped).toBe(0);
    expect(summary.calls).toBe(20000);
    // The run reached every kind of outcome, so the inputs were not all refused at the door.
    expect(summary.returned).toBeGreaterThan(1000);
    for (const kind of ['InvalidArgumentError', 'SocketStateError', 'SyscallError', 'UnsupportedOptionError']) {
      expect(summary.threw[kind]).toBeGreaterThan(50);
    }
  },
  120000,
);
