#!/usr/bin/env node
'use strict';
// npm run lint: ESLint (with typescript-eslint) over the code, prettier's check of its format, and
// clang-format's check of the C++; CI runs it. npm run format (--fix) applies all three.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const fix = process.argv.includes('--fix');
const CODE = ['lib', 'test', 'scripts', 'bench', 'bin', 'demo', 'eslint.config.mjs'];
const NATIVE = ['src-native/socket_knobs.cc', 'bench/floor.c', 'bench/syscalls.c', 'test/fuzz/leak-canary.c', 'test/fixtures/musl/dlopen.c'];

let failed = 0;
function run(what, command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error) {
    console.error(`lint: ${what} could not run (${result.error.message})`);
    failed++;
  } else if (result.status !== 0) {
    console.error(`lint: ${what} found problems${fix ? '' : ' (npm run format fixes the formatting)'}`);
    failed++;
  }
}

run('eslint', process.execPath, [path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'), ...(fix ? ['--fix'] : []), ...CODE]);
run('prettier', process.execPath, [
  path.join(root, 'node_modules', 'prettier', 'bin', 'prettier.cjs'),
  fix ? '--write' : '--check',
  '--log-level',
  'warn',
  ...CODE,
]);
const clangFormat = ['clang-format', 'clang-format-16', 'clang-format-14'].find((c) => !spawnSync(c, ['--version']).error);
if (!clangFormat) {
  console.error('lint: no clang-format command for the C++ (apt-get install clang-format)');
  failed++;
} else {
  run('clang-format', clangFormat, [...(fix ? ['-i'] : ['--dry-run', '-Werror']), ...NATIVE.filter((f) => fs.existsSync(path.join(root, f)))]);
}
process.exitCode = failed ? 1 : 0;
