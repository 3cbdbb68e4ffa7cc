#!/usr/bin/env node
'use strict';
// .ci/run's summary: one line per run, then the plain `N passed, N failed, N skipped` line over all,
// last. Each argument is `label=file`: a jest --json result, or a {passed, failed, skipped} summary
// (the lint and lifecycle steps, the Node matrix). A file that is missing (the run did not finish)
// counts as one failure.
const fs = require('node:fs');

let passed = 0;
let failed = 0;
let skipped = 0;
for (const arg of process.argv.slice(2)) {
  const at = arg.indexOf('=');
  const label = arg.slice(0, at);
  const file = arg.slice(at + 1);
  let r;
  try {
    r = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    console.log(`${label}: no results (the run did not finish)`);
    failed++;
    continue;
  }
  const p = r.numPassedTests ?? r.passed;
  const f = r.numFailedTests !== undefined ? r.numFailedTests + r.numRuntimeErrorTestSuites : r.failed;
  const s = r.numPendingTests ?? r.skipped;
  console.log(`${label}: ${p} passed, ${f} failed, ${s} skipped`);
  passed += p;
  failed += f;
  skipped += s;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
