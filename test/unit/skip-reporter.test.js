'use strict';
// The skip reporter (test/helpers/skip-reporter.js) names each skipped test's reason, whether the
// test itself was skipped (testIf) or a describeIf block around it was: a skip without its reason
// is what "a skip counted as a pass" looks like from the summary.
const SkipReporter = require('../helpers/skip-reporter');

function report(tests) {
  const writes = [];
  const write = process.stderr.write;
  process.stderr.write = (chunk) => writes.push(String(chunk));
  try {
    new SkipReporter().onRunComplete(new Set(), { testResults: [{ testResults: tests }] });
  } finally {
    process.stderr.write = write;
  }
  return writes.join('');
}

test('a reason on the test, on its describeIf block, or on neither', () => {
  const out = report([
    { status: 'pending', title: 'reads it [skipped: needs root]', ancestorTitles: ['outer'], fullName: 'outer reads it [skipped: needs root]' },
    { status: 'pending', title: 'a', ancestorTitles: ['pg against PostgreSQL [skipped: install postgresql]', 'inner'], fullName: 'x' },
    { status: 'pending', title: 'b', ancestorTitles: ['pg against PostgreSQL [skipped: install postgresql]'], fullName: 'y' },
    { status: 'pending', title: 'bare', ancestorTitles: [], fullName: 'bare' },
    { status: 'passed', title: 'ran', ancestorTitles: [], fullName: 'ran' },
  ]);
  expect(out).toBe('4 skipped, by reason:\n  1 x needs root\n  2 x install postgresql\n  1 x no reason given\n');
});

test('nothing skipped: nothing printed', () => {
  expect(report([{ status: 'passed', title: 'ran', ancestorTitles: [], fullName: 'ran' }])).toBe('');
});
