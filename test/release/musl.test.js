'use strict';
// The musl prebuild for Alpine (npm run prebuilds:musl): built with this machine's g++ and linked
// by musl-gcc against musl's libc with no libstdc++ (the few C++ runtime pieces node-addon-api
// needs are compiled into the addon). There is no musl build of Node on the npm registry or in
// Debian's packages, so it is checked as far as can be done here: what it links to, that musl's
// own dynamic linker loads it, and that node-gyp-build picks it by its libc tag.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { PUBLISHED, stagePackage, runScript } = require('../../scripts/stage');
const { describeIf } = require('../helpers');

const root = path.join(__dirname, '..', '..');
const MUSL_LIBC = '/usr/lib/x86_64-linux-musl/libc.so';
const reason =
  process.platform !== 'linux' || process.arch !== 'x64'
    ? 'the musl prebuild is made for linux-x64 only'
    : spawnSync('musl-gcc', ['--version']).error
      ? 'no musl-gcc (Debian package musl-tools)'
      : !fs.existsSync(MUSL_LIBC)
        ? `no ${MUSL_LIBC}`
        : null;
describeIf(reason, 'the linux-x64 musl prebuild', () => {
  let work;
  let stage;
  let musl;
  let glibc;

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-musl-'));
    stage = stagePackage(work, PUBLISHED);
    runScript(stage, 'prebuilds:musl');
    musl = path.join(stage, 'prebuilds', 'linux-x64', 'socket-knobs.musl.node');
    glibc = path.join(stage, 'prebuilds', 'linux-x64', 'socket-knobs.glibc.node');
  }, 120000);

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('it needs only musl libc: no libstdc++, no glibc symbol versions', () => {
    const needed = execFileSync('readelf', ['-d', musl], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('(NEEDED)'))
      .map((l) => /\[(.+)\]/.exec(l)[1]);
    expect(needed).toEqual(['libc.so']);
    expect(execFileSync('objdump', ['-T', musl], { encoding: 'utf8' })).not.toMatch(/GLIBC/);
  });

  test("every symbol it imports is a napi_* function (from node) or exported by musl's libc", () => {
    const symbols = (args, file) =>
      execFileSync('nm', [...args, file], { encoding: 'utf8' })
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f.length >= 2);
    const imported = symbols(['-D', '--undefined-only'], musl)
      .filter(([kind]) => kind === 'U')
      .map((f) => f[1]);
    const exported = new Set(symbols(['-D', '--defined-only'], MUSL_LIBC).map((f) => f[2]));
    expect(imported.length).toBeGreaterThan(10);
    const unresolved = imported.filter((name) => !name.startsWith('napi_') && !exported.has(name));
    expect(unresolved).toEqual([]);
  });

  test('it defines exactly the names docs/evidence/support.json lists for linux-x64-musl', () => {
    const { definedNames, supportDrift } = require('../../scripts/support');
    expect(supportDrift('linux-x64-musl', definedNames(musl))).toBe('');
  });

  test("musl's dynamic linker loads it (and refuses the glibc build, which needs libstdc++)", () => {
    const loader = path.join(work, 'dlopen');
    execFileSync('musl-gcc', ['-o', loader, path.join(__dirname, '..', 'fixtures', 'musl', 'dlopen.c')]);
    const load = (file) => JSON.parse(spawnSync(loader, [file], { encoding: 'utf8' }).stdout);
    expect(load(musl)).toEqual({ loaded: true, napiEntry: true });
    const refused = load(glibc);
    expect(refused.loaded).toBe(false);
    expect(refused.error).toMatch(/libstdc\+\+/);
  });

  test('node-gyp-build selects it by its libc tag, and the glibc build elsewhere', () => {
    const resolve = (env) =>
      execFileSync(process.execPath, ['-e', `console.log(require('node-gyp-build').resolve(${JSON.stringify(stage)}))`], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, ...env },
      }).trim();
    expect(resolve({ LIBC: 'musl' })).toBe(musl);
    expect(resolve({ LIBC: 'glibc' })).toBe(glibc);
  });
});
