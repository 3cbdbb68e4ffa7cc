'use strict';
// A staged copy of the package with a fresh prebuild, for the packaging test and the Node matrix:
// building and packing there never touches the checkout's build/ and dist/, which other tests use
// at the same time, and a stage without build/ makes node-gyp-build load the prebuild.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

/** What the published tarball is made from (package.json "files", plus package.json and README). */
// What npm publishes, from package.json's `files` (their top-level entries: dist/ is built whole for
// the stage), and the files npm always adds.
const PUBLISHED = [
  'package.json',
  'README.md',
  ...new Set(
    JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'))
      .files.map((f) => f.replace(/\/+$/, '').split('/')[0])
      .filter((f) => f !== 'prebuilds'),
  ),
];

/** npm's own script: the one running this under npm, else the one installed beside node. */
function npmCli() {
  return [process.env.npm_execpath, path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')].find(
    (file) => file && /npm-cli\.js$/.test(file) && fs.existsSync(file),
  );
}

/**
 * Node's headers for node-gyp, offline: npm sets npm_config_nodedir on this machine; run outside
 * npm, use the headers installed beside the running node (the npm registry's node binaries ship them).
 */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.join(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : '';
}

/**
 * Copies `entries` of the package into `dir`/socket-knobs, links node_modules, and builds the
 * prebuild there with the package's own `npm run <script>` command (`prebuilds` by default; plus
 * `extraArgs`, e.g. `--arch x64`). Returns the stage's path.
 */
function stagePackage(dir, entries, extraArgs = [], script = 'prebuilds') {
  const stage = path.join(dir, 'socket-knobs');
  fs.mkdirSync(stage);
  for (const entry of entries) fs.cpSync(path.join(root, entry), path.join(stage, entry), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(stage, 'node_modules'));
  runScript(stage, script, extraArgs);
  return stage;
}

/** Runs the package script `name` in `stage` the way npm would (node_modules/.bin on PATH, Node's headers offline). */
function runScript(stage, name, extraArgs = []) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const env = { ...process.env, PATH: `${path.join(root, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH}`, npm_config_nodedir: nodeDir() };
  execFileSync('sh', ['-c', [pkg.scripts[name], ...extraArgs].join(' ')], { cwd: stage, env, stdio: 'ignore' });
  fs.rmSync(path.join(stage, 'build'), { recursive: true, force: true });
}

module.exports = { PUBLISHED, stagePackage, runScript, npmCli, nodeDir };
