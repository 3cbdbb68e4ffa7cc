'use strict';
// The cross-compiled prebuilds (scripts/prebuild-cross.js, zig): macOS x64 and arm64, Windows x64,
// and Linux arm64 for musl (Alpine). None can run here, so each is checked from what can be:
// file format and architecture, that every symbol it imports is Node-API or the target's C library
// (nothing from a C++ runtime the target lacks), that it exports the module's registration
// symbol, the code signature Apple silicon requires, and that node-gyp-build selects it when
// asked for that platform, architecture and libc. The run fetches zig (353 MB) into a cache once.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { TARGETS, build } = require('../../scripts/prebuild-cross');

const tools = ['llvm-objdump', 'llvm-nm', 'readelf'].filter((t) => spawnSync(t, ['--version']).error);
const reason =
  process.env.SOCKET_KNOBS_TEST_RUN === 'matrix'
    ? 'run once by npm test: the cross builds do not depend on the Node that runs the suite (matrix and arm64 runs skip them)'
    : process.platform !== 'linux' || process.arch !== 'x64'
      ? 'the cross prebuilds are built on linux-x64'
      : tools.length
        ? `missing ${tools.join(', ')} (Debian packages llvm and binutils)`
        : null;
const { describeIf, testIf } = require('../helpers');
const describeCross = (name, fn) => describeIf(reason, name, fn);
const MUSL_LIBC = ['/usr/lib/musl/lib/libc.so', '/usr/lib/x86_64-linux-musl/libc.so'].find((f) => fs.existsSync(f));

const run = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
/** The symbols `file` imports: for a (stripped) ELF its dynamic table, for Mach-O its symbol table. */
const undefinedSymbols = (file) => {
  const elf = fs.readFileSync(file).subarray(0, 4).toString('latin1') === '\x7fELF';
  const symbols = run('llvm-nm', [...(elf ? ['-D'] : []), '-u', file])
    .split('\n')
    .map((l) => l.trim().split(/\s+/).pop())
    .filter(Boolean);
  // Every addon imports something (napi_* at least): an empty list would mean the tool read nothing.
  expect(symbols.length).toBeGreaterThan(10);
  return symbols;
};

/** Which prebuild node-gyp-build picks for `platform`/`arch`/`libc`, from a folder holding them all. */
function selected(dir, platform, arch, libc) {
  const script = `process.stdout.write(require('node-gyp-build').resolve(${JSON.stringify(dir)}))`;
  const env = { ...process.env, npm_config_platform: platform, npm_config_arch: arch, PREBUILDS_ONLY: '1', LIBC: libc || '' };
  const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env, cwd: path.join(__dirname, '..', '..') });
  return out.status === 0 ? path.relative(dir, out.stdout) : `none (${out.stderr.split('\n').find((l) => /Error/.test(l))})`;
}

describeCross('cross-compiled prebuilds', () => {
  let dir;
  const files = {};
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-prebuilds-'));
    for (const name of Object.keys(TARGETS)) {
      const started = Date.now();
      files[name] = build(name, path.join(dir, 'prebuilds'), () => {});
      console.log(`${name}: built in ${((Date.now() - started) / 1000).toFixed(1)} s, ${fs.statSync(files[name]).size} bytes`);
    }
  }, 900000);
  afterAll(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['darwin-arm64', 'ARM64'],
    ['darwin-x64', 'X86_64'],
  ])('%s: a Mach-O %s library importing only napi_* (flat namespace) and libSystem, registering the module (arm64: signed)', (name, cpu) => {
    const file = files[name];
    const headers = run('llvm-objdump', ['--macho', '--private-headers', file]);
    expect(headers).toMatch(new RegExp(`MH_MAGIC_64\\s+${cpu}\\s`));
    expect(headers).toMatch(/platform macos/);
    const minos = /minos (\S+)/.exec(headers)[1];
    expect(Number(minos.split('.')[0])).toBeLessThanOrEqual(11);
    if (name === 'darwin-arm64') expect(headers).toMatch(/cmd LC_CODE_SIGNATURE/); // Apple silicon refuses unsigned code
    const dylibs = run('llvm-objdump', ['--macho', '--dylibs-used', file])
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(' ')[0])
      .filter(Boolean);
    expect(dylibs.filter((d) => !d.endsWith('socket-knobs.node') && !d.includes('/tmp/'))).toEqual(['/usr/lib/libSystem.B.dylib']);
    // Every import is Node-API, looked up in the flat namespace (node itself), or libSystem's.
    const binds = run('llvm-objdump', ['--macho', '--bind', '--lazy-bind', '--weak-bind', file]);
    for (const line of binds.split('\n').filter((l) => /\s(_\S+)$/.test(l) && !/^segment/.test(l.trim()))) {
      const symbol = line.trim().split(/\s+/).pop();
      const dylib = line.trim().split(/\s+/).slice(-2, -1)[0];
      if (/^_napi_|^_node_api_/.test(symbol)) expect({ symbol, dylib }).toEqual({ symbol, dylib: 'flat-namespace' });
      else expect({ symbol, dylib }).toEqual({ symbol, dylib: 'libSystem' });
    }
    // No C++ runtime is imported: libc++ is compiled in.
    expect(undefinedSymbols(file).filter((s) => /^__Z|^___cxa|^___gxx/.test(s))).toEqual([]);
    expect(run('llvm-objdump', ['--macho', '--exports-trie', file])).toMatch(/\s_napi_register_module_v1\n/);
    console.log(`${name}: minos ${minos}, imports napi_* flat and libSystem only`);
  });

  test('win32-x64: a PE32+ x86-64 DLL importing napi_* from NODE.EXE and only system DLLs, exporting the registration', () => {
    const file = files['win32-x64'];
    const headers = run('llvm-objdump', ['-p', file]);
    expect(run('llvm-objdump', ['-f', file])).toMatch(/file format coff-x86-64/);
    const dlls = [...headers.matchAll(/DLL Name: (\S+)/g)].map((m) => m[1].toUpperCase());
    expect(dlls).toContain('NODE.EXE');
    for (const dll of dlls)
      expect(['NODE.EXE', 'KERNEL32.DLL', 'WS2_32.DLL', 'MSVCRT.DLL', 'ADVAPI32.DLL', 'NTDLL.DLL'].includes(dll) || /^API-MS-WIN-CRT-/.test(dll)).toBe(true);
    // The imports listed under NODE.EXE are Node-API functions.
    const nodeSection = headers.split(/DLL Name: /).find((s) => /^NODE\.EXE/i.test(s));
    const fromNode = [...nodeSection.matchAll(/^\s+\d+\s+(\S+)$/gm)].map((m) => m[1]);
    expect(fromNode.length).toBeGreaterThan(5);
    for (const symbol of fromNode) expect(symbol).toMatch(/^napi_|^node_api_/);
    expect(headers).toMatch(/napi_register_module_v1/); // in the export table
    console.log(`win32-x64: imports ${dlls.join(', ')}`);
  });

  test('linux-arm64 musl: an aarch64 ELF needing only libc, importing only napi_* and libc functions musl has', () => {
    const file = files['linux-arm64-musl'];
    const elf = run('readelf', ['-h', '-d', file]);
    expect(elf).toMatch(/Machine:\s+AArch64/);
    const needed = [...elf.matchAll(/\(NEEDED\)\s+Shared library: \[(\S+)\]/g)].map((m) => m[1]);
    expect(needed).toEqual(['libc.so']); // musl's dynamic linker answers libc.so with itself
    const imports = undefinedSymbols(file).filter((s) => !/^napi_|^node_api_/.test(s));
    expect(imports.filter((s) => /^_Z|^__cxa|^__gxx|GLIBC/.test(s))).toEqual([]);
    expect(run('llvm-nm', ['-D', '--defined-only', file])).toMatch(/ T napi_register_module_v1\n/);
  });

  // Checked against musl's own export list (musl-tools, x86_64: the same C API as aarch64 musl).
  testIf(MUSL_LIBC ? null : 'no musl libc.so here (apt-get install musl-tools)', 'linux-arm64 musl: every libc function it imports is one musl exports', () => {
    const imports = undefinedSymbols(files['linux-arm64-musl']).filter((s) => !/^napi_|^node_api_/.test(s));
    const exported = new Set(
      run('llvm-nm', ['-D', '--defined-only', MUSL_LIBC])
        .split('\n')
        .map((l) => l.trim().split(/\s+/).pop()),
    );
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((s) => !exported.has(s))).toEqual([]);
  });

  test('each defines exactly the names docs/evidence/support.json (the docs’ platform columns) lists for it', () => {
    const { definedNames, supportDrift } = require('../../scripts/support');
    const drift = Object.keys(TARGETS)
      .map((name) => supportDrift(name, definedNames(files[name])))
      .filter(Boolean);
    expect(drift).toEqual([]);
  });

  test('check-prebuilds (prepublishOnly) accepts each for its own target and refuses a wrong format, architecture or libc, a stale build and a missing entry point', () => {
    const { checkPrebuild } = require('../../scripts/check-prebuilds');
    const { target } = require('../../scripts/targets');
    for (const name of Object.keys(TARGETS)) expect({ name, problems: checkPrebuild(files[name], target(name)) }).toEqual({ name, problems: [] });
    const problems = (file, name) => checkPrebuild(file, target(name)).join('; ');
    expect(problems(files['darwin-arm64'], 'darwin-x64')).toMatch(/is built for arm64, not x64/);
    expect(problems(files['win32-x64'], 'darwin-x64')).toMatch(/is win32, not darwin/);
    expect(problems(files['linux-arm64-musl'], 'linux-x64-musl')).toMatch(/is built for arm64, not x64/);
    expect(problems(files['linux-arm64-musl'], 'linux-arm64-glibc')).toMatch(/links musl, not glibc/);
    // A build from other sources: the same binary with another hash in it.
    const { SOURCE_HASH_BEGIN } = require('../../scripts/support');
    const stale = path.join(dir, 'stale.node');
    const bytes = fs.readFileSync(files['darwin-arm64']);
    const at = bytes.indexOf(SOURCE_HASH_BEGIN) + SOURCE_HASH_BEGIN.length;
    bytes.write('0'.repeat(24), at, 'latin1');
    fs.writeFileSync(stale, bytes);
    expect(problems(stale, 'darwin-arm64')).toMatch(/was built from other native sources \(0{24}; these are [0-9a-f]{24}\): rebuild it/);
    // No entry point: not an addon at all.
    const entry = bytes.indexOf('napi_register_module_v1');
    bytes.write('x', entry, 'latin1');
    fs.writeFileSync(stale, bytes);
    expect(problems(stale, 'darwin-arm64')).toMatch(/has no N-API entry point/);
    fs.writeFileSync(stale, 'not a library');
    expect(problems(stale, 'win32-x64')).toMatch(/not a shared library/);
  });

  test('node-gyp-build selects each one for its platform, architecture and libc (beside the Linux ones)', () => {
    const pkg = path.join(dir, 'package');
    fs.mkdirSync(pkg);
    fs.cpSync(path.join(dir, 'prebuilds'), path.join(pkg, 'prebuilds'), { recursive: true });
    // The Linux prebuilds of the real package sit beside them: selection must tell them apart.
    fs.mkdirSync(path.join(pkg, 'prebuilds', 'linux-x64'), { recursive: true });
    fs.writeFileSync(path.join(pkg, 'prebuilds', 'linux-x64', 'socket-knobs.glibc.node'), '');
    fs.writeFileSync(path.join(pkg, 'prebuilds', 'linux-x64', 'socket-knobs.musl.node'), '');
    fs.writeFileSync(path.join(pkg, 'prebuilds', 'linux-arm64', 'socket-knobs.glibc.node'), '');
    fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'socket-knobs' }));
    expect(selected(pkg, 'darwin', 'arm64')).toBe(path.join('prebuilds', 'darwin-arm64', 'socket-knobs.node'));
    expect(selected(pkg, 'darwin', 'x64')).toBe(path.join('prebuilds', 'darwin-x64', 'socket-knobs.node'));
    expect(selected(pkg, 'win32', 'x64')).toBe(path.join('prebuilds', 'win32-x64', 'socket-knobs.node'));
    expect(selected(pkg, 'linux', 'arm64', 'musl')).toBe(path.join('prebuilds', 'linux-arm64', 'socket-knobs.musl.node'));
    expect(selected(pkg, 'linux', 'arm64', 'glibc')).toBe(path.join('prebuilds', 'linux-arm64', 'socket-knobs.glibc.node'));
    expect(selected(pkg, 'freebsd', 'x64')).toMatch(/^none/);
  });
});
