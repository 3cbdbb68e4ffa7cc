#!/usr/bin/env node
'use strict';
// npm run prebuilds:all: every prebuild the package ships, into prebuilds/, or a stop at once naming
// the missing toolchain and the command that installs it (instead of failing deep inside make).
// The targets are scripts/targets.js: those with a package script are built natively by prebuildify
// (g++, musl-gcc, aarch64-linux-gnu-g++), the others with zig, fetched on demand into a cache.
const { execFileSync, spawnSync } = require('node:child_process');
const path = require('node:path');
const { TARGETS } = require('./targets');
const { build, toolchain } = require('./prebuild-cross');
const { npmCli } = require('./stage');

const root = path.join(__dirname, '..');
const NEEDED = [
  ['g++', 'apt-get install g++ make python3'],
  ['musl-gcc', 'apt-get install musl-tools'],
  ['aarch64-linux-gnu-g++', 'apt-get install g++-aarch64-linux-gnu'],
  ['aarch64-linux-gnu-strip', 'apt-get install binutils-aarch64-linux-gnu'],
];

const missing = NEEDED.filter(([tool]) => spawnSync(tool, ['--version']).error);
if (missing.length) {
  for (const [tool, install] of missing) console.error(`prebuilds:all: ${tool} is missing; install it with: ${install}`);
  process.exit(1);
}
try {
  toolchain((text) => console.log(text)); // zig: fetched now (once) if it is not in the cache
} catch (err) {
  console.error(`prebuilds:all: no zig for the macOS, Windows and musl arm64 prebuilds: ${err.message}`);
  process.exit(1);
}
for (const target of TARGETS) {
  const started = Date.now();
  if (target.script) {
    console.log(`${target.name}: npm run ${target.script}`);
    execFileSync(process.execPath, [npmCli(), 'run', target.script], { cwd: root, stdio: 'inherit' });
  } else {
    build(target.name);
  }
  console.log(`${target.name}: prebuilds/${target.dir}/${target.file} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}
// prebuildify builds in build/, so the last native target (arm64) left its binary there, and make
// would call that up to date: rebuild this machine's addon so that the checkout keeps working.
console.log('build/: the addon for this machine again (npm run build)');
require('node:fs').rmSync(path.join(root, 'build'), { recursive: true, force: true });
execFileSync(process.execPath, [path.join(__dirname, 'build.js')], { cwd: root, stdio: 'inherit' });
