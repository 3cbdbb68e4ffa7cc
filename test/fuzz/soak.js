#!/usr/bin/env node
'use strict';
// A long run that samples memory as it goes, to tell a leak from a heap that grows to its working
// size and stays there:
//
//   node --expose-gc test/fuzz/soak.js [--calls 4000000] [--every 250000]
//
// The same mix as leak.js (workload.js), on real loopback sockets. Every `--every` calls it prints one JSON line
// with RSS and V8's heap as they are (no GC forced, as a server sees them); at the end, RSS after a
// forced GC. A leak keeps RSS rising line after line; a plateau levels off.
const { workload } = require('./workload');

const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const CALLS = arg('--calls', 4000000);
const EVERY = arg('--every', 250000);
const MiB = (bytes) => Math.round((bytes / 1048576) * 10) / 10;

async function main() {
  const { kinds, close } = await workload();
  const started = Date.now();
  for (let i = 1; i <= CALLS; i++) {
    kinds[i % kinds.length](i);
    if (i % EVERY === 0) {
      const m = process.memoryUsage();
      console.log(
        JSON.stringify({
          calls: i,
          rssMiB: MiB(m.rss),
          heapUsedMiB: MiB(m.heapUsed),
          heapTotalMiB: MiB(m.heapTotal),
          externalMiB: MiB(m.external),
          s: Math.round((Date.now() - started) / 100) / 10,
        }),
      );
      // Yield now and then, as a server does, so that Node's own work (and GC tasks) can run.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  global.gc();
  global.gc();
  const m = process.memoryUsage();
  console.log(JSON.stringify({ done: CALLS, rssAfterGcMiB: MiB(m.rss), heapUsedAfterGcMiB: MiB(m.heapUsed), node: process.version }));
  close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
