'use strict';
// What a user installs from npm: the packed tarball, installed into a fresh project whose PATH has
// node and sh and nothing else (no cc, no g++, no make, no python), must load the prebuild and work.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { PUBLISHED, stagePackage, npmCli: findNpmCli } = require('../../scripts/stage');
const { testIf } = require('../helpers');

const npmCli = findNpmCli();
const platformDir = `${process.platform}-${process.arch}`;

let work;
let tarball;
let packedFiles;

let stage;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-pack-'));
  // A staged copy with a fresh prebuild, built by the package's own `npm run prebuilds`; then pack.
  // --arch: the node running this test decides (the prebuildify command itself runs on the host's
  // node; under npm run test:arm64 this cross-compiles with the compiler in $CC/$CXX).
  stage = stagePackage(work, PUBLISHED, ['--arch', process.arch]);
  const packed = JSON.parse(
    execFileSync(process.execPath, [npmCli, 'pack', '--json', '--ignore-scripts', '--pack-destination', work], {
      cwd: stage,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  )[0];
  tarball = path.join(work, packed.filename);
  packedFiles = packed.files.map((f) => f.path).sort();
}, 180000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the tarball ships the prebuild, the compiled façade, the native sources, and nothing else', () => {
  expect(packedFiles).toContain(`prebuilds/${platformDir}/socket-knobs.glibc.node`);
  for (const file of [
    'dist/index.js',
    'dist/chunks/base.js',
    'dist/index.mjs',
    'dist/index.d.mts',
    'dist/modules/index.d.ts',
    'bin/socket-knobs.js',
    'binding.gyp',
    'src-native/socket_knobs.cc',
    'src-native/table.gen.h',
    'package.json',
    'README.md',
  ]) {
    expect(packedFiles).toContain(file);
  }
  const allowed = /^(dist\/|prebuilds\/|src-native\/|bin\/socket-knobs\.js$|binding\.gyp$|package\.json$|README\.md$|LICENSE$)/;
  expect(packedFiles.filter((f) => !allowed.test(f))).toEqual([]);
  expect(packedFiles.filter((f) => /^(build|node_modules|test|lib)\//.test(f))).toEqual([]);
  // The entry and its chunks are bundled: the per-module JavaScript is not shipped, only its types.
  expect(packedFiles.filter((f) => f.startsWith('dist/modules/') && !f.endsWith('.d.ts'))).toEqual([]);
});

test('every shipped prebuild is a real binary for the platform it is filed under', () => {
  const dir = path.join(stage, 'prebuilds', platformDir);
  for (const name of fs.readdirSync(dir)) {
    const head = fs.readFileSync(path.join(dir, name)).subarray(0, 20);
    if (process.platform === 'linux') {
      // ELF magic, 64-bit class, and e_machine for this arch (x86-64: 62, arm64: 183).
      expect(head.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
      const machine = head.readUInt16LE(18);
      expect(machine).toBe({ x64: 62, arm64: 183 }[process.arch]);
    }
  }
});

test('installed into a fresh project with no compiler on PATH, it loads the prebuild and works', () => {
  const project = path.join(work, 'consumer');
  const bin = path.join(work, 'bin');
  fs.mkdirSync(project);
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  // npm runs install scripts through sh; a machine without a compiler still has a shell.
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  const env = { ...process.env, PATH: bin, npm_config_update_notifier: 'false' };
  for (const key of Object.keys(env)) if (/^npm_(lifecycle|package|config_node_gyp)/.test(key)) delete env[key];

  // --foreground-scripts: npm prints each script it runs, so the output says whether it ran.
  const install = spawnSync(process.execPath, [npmCli, 'install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts'], {
    cwd: project,
    env,
    encoding: 'utf8',
    timeout: 120000,
  });
  expect(install.stderr).not.toMatch(/gyp ERR|npm error/);
  expect(install.status).toBe(0);
  // What the README says npm does: it runs the install script with default settings (node-gyp-build
  // finds the prebuild and builds nothing), and npm 11 warns that it is not covered by allowScripts.
  expect(install.stdout).toMatch(/> node-gyp-build/);
  const npmMajor = Number(execFileSync(process.execPath, [npmCli, '--version'], { encoding: 'utf8' }).split('.')[0]);
  if (npmMajor >= 11)
    expect(install.stderr).toMatch(/npm warn install-scripts[^\n]*not yet covered by allowScripts[\s\S]*socket-knobs@[^ ]+ \(install: node-gyp-build/);
  // Nothing was compiled on the user's side.
  expect(fs.existsSync(path.join(project, 'node_modules', 'socket-knobs', 'build'))).toBe(false);

  const check = `
    const { spawnSync } = require('child_process');
    const compilers = ['cc', 'gcc', 'g++', 'make', 'python3'].filter((c) => !spawnSync(c, ['--version']).error);
    const knobs = require('socket-knobs');
    const net = require('net');
    const server = net.createServer((s) => s.destroy()).listen(0, '127.0.0.1', () => {
      const c = net.connect(server.address().port, '127.0.0.1', () => {
        knobs.setKeepAlive(c, { idle: 17, interval: 4, count: 6 });
        console.log(JSON.stringify({ compilers, addon: knobs.addonPath(), ka: knobs.getKeepAlive(c) }));
        c.destroy(); server.close();
      });
    });`;
  const run = spawnSync(process.execPath, ['-e', check], { cwd: project, env, encoding: 'utf8', timeout: 20000 });
  expect(run.stderr).toBe('');
  const result = JSON.parse(run.stdout);
  expect(result.compilers).toEqual([]);
  expect(result.addon).toBe(path.join(project, 'node_modules', 'socket-knobs', 'prebuilds', platformDir, 'socket-knobs.glibc.node'));
  expect(result.ka).toEqual({ enable: true, idle: 17, interval: 4, count: 6 });

  // The command the package installs (npx socket-knobs) runs there too.
  const cli = spawnSync(path.join(project, 'node_modules', '.bin', 'socket-knobs'), ['--json'], { cwd: project, env, encoding: 'utf8', timeout: 20000 });
  expect(cli.stderr).toBe('');
  expect(cli.status).toBe(0);
  expect(JSON.parse(cli.stdout).options.find((o) => o.name === 'TCP_KEEPIDLE')).toMatchObject({ defined: true, accepted: true });

  // No binary it could load (an unlisted platform, a source build that never ran): require() and
  // import still succeed, and every call that needs the addon says how to build it.
  const installed = path.join(project, 'node_modules', 'socket-knobs');
  fs.rmSync(path.join(installed, 'prebuilds'), { recursive: true, force: true });
  const noAddon = `
    const knobs = require('socket-knobs');
    const net = require('net');
    const out = { addon: knobs.addonPath(), loadError: knobs.loadError(), supported: knobs.isSupported('TCP_KEEPIDLE'), constants: Object.keys(knobs.constants).length, calls: {} };
    const socket = new net.Socket();
    for (const [name, call] of [
      ['setKeepAlive', () => knobs.setKeepAlive(3, { idle: 5 })],
      ['getKeepAlive', () => knobs.getKeepAlive(3)],
      ['tune', () => knobs.tune(3, {})],
      ['tuneOnConnect', () => knobs.tuneOnConnect(socket, { noDelay: true })],
      ['setsockopt', () => knobs.setsockopt(3, 'SOL_SOCKET', 'SO_KEEPALIVE', 1)],
      ['setsockopt by number', () => knobs.setsockopt(3, 1, 9, 1)],
      ['getTcpInfo', () => knobs.getTcpInfo(3)],
      ['probe', () => knobs.probe()],
      ['createListeningSocket', () => knobs.createListeningSocket({ port: 0 })],
    ]) {
      try { call(); out.calls[name] = 'returned'; } catch (e) { out.calls[name] = { name: e.name, code: e.code, message: e.message, isBase: e instanceof knobs.SocketOptionError }; }
    }
    import('socket-knobs').then((m) => { out.esm = typeof m.default.setKeepAlive; console.log(JSON.stringify(out)); });`;
  const none = spawnSync(process.execPath, ['-e', noAddon], { cwd: project, env, encoding: 'utf8', timeout: 20000 });
  expect(none.stderr).toBe('');
  const seen = JSON.parse(none.stdout);
  expect(seen).toMatchObject({ addon: null, supported: false, constants: 0, esm: 'function' });
  expect(seen.loadError).toMatch(/No native build was found/);
  for (const [name, result] of Object.entries(seen.calls)) {
    expect({ name, code: result.code, isBase: result.isBase }).toEqual({ name, code: 'ERR_SOCKET_KNOBS_NO_ADDON', isBase: true });
    expect(result.message).toMatch(/npm install-scripts approve socket-knobs, then npm rebuild socket-knobs/);
  }
}, 180000);

// The README promises `npm install` on a fresh clone changes nothing in the repository: the lockfile
// must be what npm derives from package.json (its peerDependencies included), so npm never rewrites it.
const checkout = path.join(__dirname, '..', '..');
testIf(
  fs.existsSync(path.join(checkout, 'package-lock.json')) ? null : 'a staged copy of the package has no package-lock.json (the checkout runs it)',
  'package-lock.json is what `npm install --package-lock-only` derives from package.json',
  () => {
    const root = checkout;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-lock-'));
    try {
      for (const file of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(root, file), path.join(dir, file));
      const before = fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8');
      const run = spawnSync(process.execPath, [npmCli, 'install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], {
        cwd: dir,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect({ status: run.status, stderr: run.status === 0 ? '' : run.stderr }).toEqual({ status: 0, stderr: '' });
      const after = fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8');
      expect(after === before ? 'unchanged' : `rewritten:\n${after.slice(0, 2000)}`).toBe('unchanged');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  120000,
);
