'use strict';
// The prebuilds the package ships: the one list (prebuilds:all builds it, prebuild-cross.js takes
// its zig targets from it, check-prebuilds.js requires every file of it before publishing, and the
// package test checks the tarball against it). File names are prebuildify's (`--napi --tag-libc`),
// the ones node-gyp-build and lib/core/native.ts look for.
//   script: the package script that builds it natively (prebuildify); zig: the cross target.
const TARGETS = [
  { name: 'linux-x64-glibc', dir: 'linux-x64', file: 'socket-knobs.glibc.node', script: 'prebuilds' },
  { name: 'linux-x64-musl', dir: 'linux-x64', file: 'socket-knobs.musl.node', script: 'prebuilds:musl' },
  { name: 'linux-arm64-glibc', dir: 'linux-arm64', file: 'socket-knobs.glibc.node', script: 'prebuilds:arm64' },
  { name: 'linux-arm64-musl', dir: 'linux-arm64', file: 'socket-knobs.musl.node', zig: 'aarch64-linux-musl' },
  { name: 'darwin-x64', dir: 'darwin-x64', file: 'socket-knobs.node', zig: 'x86_64-macos', ldflags: ['-Wl,-undefined,dynamic_lookup'] },
  { name: 'darwin-arm64', dir: 'darwin-arm64', file: 'socket-knobs.node', zig: 'aarch64-macos', ldflags: ['-Wl,-undefined,dynamic_lookup'] },
  { name: 'win32-x64', dir: 'win32-x64', file: 'socket-knobs.node', zig: 'x86_64-windows-gnu', windows: true },
];

/** The target called `name`. */
function target(name) {
  const found = TARGETS.find((t) => t.name === name);
  if (!found) throw new Error(`unknown prebuild target ${name} (known: ${TARGETS.map((t) => t.name).join(', ')})`);
  return found;
}

/** A target's path under prebuilds/. */
function relativePath(t) {
  return `${t.dir}/${t.file}`;
}

module.exports = { TARGETS, target, relativePath };
