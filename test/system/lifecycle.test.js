'use strict';
// The lifecycle fuzzer (test/fuzz/lifecycle.js) on fixed seeds: seeded random sequences of real
// operations on servers, tuners, observers and sockets, against an oracle that reads the kernel.
// Each seed runs in its own process (with --expose-gc, for the retention oracle). Any violation
// fails the test with its seed and its shrunk sequence (replay it with --replay). The longer run is
// `npm run fuzz:lifecycle` (CI runs it too).
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { EMULATED, eachIf } = require('../helpers');

eachIf(
  [[1], [2], [3]],
  () => (EMULATED ? 'under qemu-user the oracle cannot read TCP_USER_TIMEOUT back (the emulator does not translate it)' : null),
  'seed %i: 20 sequences of 40 operations, no violation of the attachment invariants',
  (seed) => {
    const run = spawnSync(
      process.execPath,
      ['--expose-gc', path.join(__dirname, '..', 'fuzz', 'lifecycle.js'), '--seed', String(seed), '--sequences', '20', '--ops', '40', '--json'],
      {
        encoding: 'utf8',
        timeout: 120000,
      },
    );
    expect(run.signal).toBeNull();
    const summary = JSON.parse(run.stdout.trim().split('\n').pop());
    expect(summary.found).toEqual([]);
    expect(run.status).toBe(0);
    expect(summary.sequences).toBe(20);
  },
  120000,
);
