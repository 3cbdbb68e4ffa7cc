#!/usr/bin/env node
'use strict';
// npm run build: every script that runs code depends on this one (test, test:fast, demo, bench,
// fuzz, soak, prepare), so nothing ever runs against stale output:
//   1. TypeScript, lib/ -> dist/modules/ (one file per module, and the .d.ts files), incrementally;
//      files whose source is gone are removed (a renamed module must not live on as a stale copy);
//   2. the generated files (scripts/gen.js --check): a table changed without `npm run gen` fails
//      here, naming the command;
//   3. the addon, incrementally: node-gyp's make rebuilds when src-native/ or table.gen.h changed,
//      and a C++ error fails the build (node-gyp-build alone would keep loading the old binary);
//   4. dist/index.js, the package's entry: dist/modules bundled into one file by esbuild, and its
//      ESM twin dist/index.mjs (the same instance: it imports the bundle). One file because
//      resolving and loading twenty was most of require()'s time (npm run bench: load).
//   --no-native skips step 3 (a staged copy that loads a prebuild);
//   --write-generated writes the generated files instead of checking them (npm run gen).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');
const modules = path.join(dist, 'modules');
const lib = path.join(root, 'lib');
const buildInfo = path.join(root, 'node_modules', '.cache', 'socket-knobs', 'tsbuildinfo');

function run(what, args) {
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`build: ${what} failed`);
    process.exit(result.status || 1);
  }
}

// 1. TypeScript. Without its output the incremental state is meaningless (tsc would emit nothing).
if (!fs.existsSync(modules)) fs.rmSync(buildInfo, { force: true });
const tsc = [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', buildInfo];
const writeGenerated = process.argv.includes('--write-generated');
if (writeGenerated) {
  // npm run gen: the generators read the tables from dist/, which tsc emits even while a stale
  // generated file does not compile yet; the second pass below must then succeed.
  spawnSync(process.execPath, tsc, { cwd: root, stdio: 'ignore' });
  run('scripts/gen.js', [path.join(__dirname, 'gen.js')]);
}
run('tsc', tsc);
for (const file of fs.readdirSync(modules, { recursive: true })) {
  const match = /^(.*?)(\.d)?\.(js|d\.ts)$/.exec(file);
  if (!match) continue;
  const stem = match[1].replace(/\.d$/, '');
  if (!fs.existsSync(path.join(lib, `${stem}.ts`))) fs.rmSync(path.join(modules, file));
}

// 2. Generated files.
run('the generated files check (run `npm run gen` to write them)', [path.join(__dirname, 'gen.js'), '--check']);

// 3. The addon (before the bundle: listing the entry's names loads it).
if (!process.argv.includes('--no-native')) {
  const gyp = require.resolve('node-gyp/bin/node-gyp.js');
  if (!fs.existsSync(path.join(root, 'build', 'Makefile')) && !fs.existsSync(path.join(root, 'build', 'binding.sln'))) {
    run('node-gyp configure', [gyp, 'configure']);
  }
  run('the native build (node-gyp build)', [gyp, 'build', '--loglevel=warn']);
}

// 4. The bundle and its ESM twin. Names are kept (stack traces and errors read as in lib/).
require('esbuild').buildSync({
  entryPoints: [path.join(modules, 'index.js')],
  outfile: path.join(dist, 'index.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  keepNames: true,
  packages: 'external', // node-gyp-build, and the optional peers (prom-client), stay require()s
  banner: { js: '// socket-knobs: dist/modules bundled by scripts/build.js (sources in lib/).' },
  logLevel: 'warning',
});
const names = Object.keys(require(path.join(modules, 'index.js'))).filter((n) => n !== 'default' && n !== '__esModule');
fs.writeFileSync(
  path.join(dist, 'index.mjs'),
  `// socket-knobs for import: the same module instance as require('socket-knobs').\nimport knobs from './index.js';\n\nexport const { ${names.join(', ')} } = knobs;\nexport default knobs;\n`,
);
fs.writeFileSync(path.join(dist, 'index.d.mts'), "export * from './modules/index.js';\nimport * as knobs from './modules/index.js';\nexport default knobs;\n");
