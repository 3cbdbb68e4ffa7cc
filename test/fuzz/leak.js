'use strict';
// A million calls of the core mix (workload.js: set/get keepalive, raw Buffer set/get, and every
// error path) on real sockets,
// printing RSS and the open fd count after a warm-up and at the end, both after a forced GC.
// Run with --expose-gc. Output: one JSON line.
const fs = require('node:fs');
const { workload } = require('./workload');

const TOTAL = Number(process.argv[2] || 1000000);

function sample() {
  global.gc();
  global.gc();
  return { rss: process.memoryUsage().rss, fds: fs.readdirSync('/proc/self/fd').length };
}

async function main() {
  const { core: kinds, close } = await workload();
  const perKind = Math.floor(TOTAL / kinds.length);
  const warmup = Math.floor(perKind / 10);
  for (const kind of kinds) for (let i = 0; i < warmup; i++) kind(i);
  const before = sample();
  for (const kind of kinds) for (let i = warmup; i < perKind; i++) kind(i);
  const after = sample();
  close();
  console.log(JSON.stringify({ calls: perKind * kinds.length, before, after }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
