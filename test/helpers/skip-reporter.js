'use strict';
// Skips stay visible (issue 25 item 3): after jest's own summary, the count of skipped tests and
// each one's reason (a skipped test's title ends with `[skipped: reason]`, test/helpers/index.js),
// grouped by reason, without --verbose.
class SkipReporter {
  onRunComplete(contexts, results) {
    const byReason = new Map();
    for (const file of results.testResults) {
      for (const t of file.testResults) {
        if (t.status !== 'pending' && t.status !== 'skipped') continue;
        // The reason is on the test's own title, or on the describeIf block that skipped it.
        const match = [t.title, ...t.ancestorTitles].map((title) => /\[skipped: (.*)\]$/.exec(title)).find(Boolean);
        const reason = match ? match[1] : 'no reason given';
        if (!byReason.has(reason)) byReason.set(reason, []);
        byReason.get(reason).push(t.fullName);
      }
    }
    const count = [...byReason.values()].reduce((n, list) => n + list.length, 0);
    if (count === 0) return;
    const lines = [`${count} skipped, by reason:`];
    for (const [reason, tests] of byReason) lines.push(`  ${tests.length} x ${reason}`);
    process.stderr.write(`${lines.join('\n')}\n`);
  }
}
module.exports = SkipReporter;
