#!/usr/bin/env node
'use strict';
// npm run prebuild:all: every prebuild the package ships, into prebuilds/, or a stop at once naming
// the missing toolchain and the command that installs it (instead of failing deep inside make).
//   linux-x64 glibc and musl, linux-arm64 glibc: prebuildify (g++, musl-gcc, aarch64-linux-gnu-g++)
//   darwin-x64, darwin-arm64, win32-x64, linux-arm64 musl: zig, fetched on demand into a cache
const { execFileSync, spawnSync } = require('node:child_process');
const path = require('node:path');
const { TARGETS, build, toolchain } = require('./prebuild-cross');
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
  for (const [tool, install] of missing) console.error(`prebuild:all: ${tool} is missing; install it with: ${install}`);
  process.exit(1);
}
try {
  toolchain((text) => console.log(text)); // zig: fetched now (once) if it is not in the cache
} catch (err) {
  console.error(`prebuild:all: no zig for the macOS, Windows and musl arm64 prebuilds: ${err.message}`);
  process.exit(1);
}
for (const script of ['prebuild', 'prebuild:musl', 'prebuild:arm64']) {
  console.log(`npm run ${script}`);
  execFileSync(process.execPath, [npmCli(), 'run', script], { cwd: root, stdio: 'inherit' });
}
for (const name of Object.keys(TARGETS)) {
  const started = Date.now();
  console.log(`${name}: ${path.relative(root, build(name))} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}
