#!/usr/bin/env node
'use strict';
// npm run build: every script that runs code depends on this one (test and its tiers, demo, bench,
// fuzz, soak, prepare), so nothing ever runs against stale output:
//   1. TypeScript, lib/ -> dist/modules/ (one file per module, and the .d.ts files), incrementally;
//      files whose source is gone are removed (a renamed module must not live on as a stale copy);
//   2. the generated files (scripts/gen.js --check): a table changed without `npm run gen` fails
//      here, naming the command;
//   3. the addon, incrementally: node-gyp's make rebuilds when src-native/ or table.gen.h changed,
//      and a C++ error fails the build (node-gyp-build alone would keep loading the old binary);
//   4. dist/index.js, the package's entry, and dist/chunks/: dist/modules bundled by esbuild into
//      one chunk per capability (resolving and loading twenty modules was most of require()'s
//      time; reading and compiling all of them in one file was most of it next), and the ESM twin
//      dist/index.mjs (the same instance: it imports the entry). The entry's modules are
//      initialised, and their chunk read, on first use of one of their exports, not at require():
//      a program that only sets options never reads the observer's or dialer's code (see
//      lazyEntry below).
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

// 4. The bundle: the entry and its chunks, and the ESM twin. The entry is small (a getter per
// export); each capability's modules are bundled into one chunk, dist/chunks/NAME.js, read and
// compiled at the first use of one of its exports. Reading and compiling the whole package (300 KB)
// was 8 of require()'s 10 ms, paid by a program that only sets keepalive (npm run bench: load).
// No keepNames: it wraps every function in a call, which makes V8 compile them all eagerly (3 ms
// of require()); names survive anyway because esbuild renames only on a collision, and the check
// below fails the build if an exported name changed.
const esbuild = require('esbuild');
const bundle = path.join(dist, 'index.js');
const chunksDir = path.join(dist, 'chunks');

// The chunks, in layer order: each holds the modules its entries reach that no earlier chunk holds,
// so a module has exactly one instance. Every module the entry imports is listed (checked).
const CHUNKS = [
  ['base', ['core/errors', 'core/table', 'core/syscall', 'options/sockopt', 'options/raw', 'options/tcpinfo', 'options/probe']],
  ['tuning', ['tuning/apply', 'tuning/readback']],
  ['clients', ['clients']],
  ['servers', ['servers']],
  ['observe', ['observe']],
  ['inspect', ['inspect']],
  ['dial', ['dial']],
  ['listen', ['listen']],
];
const common = {
  bundle: true,
  write: false,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  absWorkingDir: root,
  logLevel: 'warning',
  packages: 'external', // node-gyp-build, and the optional peers (prom-client), stay require()s
};

/** The modules the entry (dist/modules/index.js) imports, by path in dist/modules. */
const entryImports = (fs.readFileSync(path.join(modules, 'index.js'), 'utf8').match(/require\("\.\/([^"]+)"\)/g) ?? []).map((r) => r.slice(11, -2));
const listed = CHUNKS.flatMap(([, entries]) => entries);
const unlisted = entryImports.filter((m) => !listed.includes(m));
if (unlisted.length > 0) fail(`the entry imports ${unlisted.join(', ')}, in no chunk of CHUNKS (scripts/build.js)`);

/** Which chunk holds each module (its path in dist/modules, no extension). */
const owner = new Map([['index', 'index']]);
for (const [name, entries] of CHUNKS) {
  const { metafile } = esbuild.buildSync({ ...common, entryPoints: entries.map((e) => path.join(modules, `${e}.js`)), outdir: dist, metafile: true });
  for (const input of Object.keys(metafile.inputs)) {
    const key = path.relative(modules, path.join(root, input)).replace(/\.js$/, '');
    if (!owner.has(key)) owner.set(key, name);
  }
}

/**
 * An esbuild plugin: a module of another chunk is imported as a stub that takes it from that chunk
 * (`.modules["core/errors"]()` of the chunk base.js), at the same place in the code, so it is still
 * initialised on first use and exactly once.
 */
function linkChunks(self, prefix) {
  return {
    name: 'link-chunks',
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        if (args.namespace === 'chunk-link') return { path: args.path, external: true };
        const key = path.relative(modules, path.resolve(args.resolveDir, args.path)).replace(/\.js$/, '');
        const chunk = owner.get(key);
        if (chunk === undefined) fail(`${args.importer} imports ${args.path}, which no chunk holds`);
        return chunk === self ? undefined : { path: key, namespace: 'chunk-link', pluginData: chunk };
      });
      build.onLoad({ filter: /.*/, namespace: 'chunk-link' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(`${prefix}${args.pluginData}.js`)}).modules[${JSON.stringify(args.path)}]();\n`,
        loader: 'js',
      }));
    },
  };
}

const banner = { js: '// socket-knobs: dist/modules bundled by scripts/build.js (sources in lib/).' };
fs.rmSync(chunksDir, { recursive: true, force: true });
fs.mkdirSync(chunksDir);
async function writeBundle() {
  for (const [name] of CHUNKS) {
    const held = [...owner].filter(([, chunk]) => chunk === name).map(([key]) => key);
    const contents = `exports.modules = {\n${held.map((key) => `  ${JSON.stringify(key)}: () => require(${JSON.stringify(`./${key}.js`)}),`).join('\n')}\n};\n`;
    const { outputFiles } = await esbuild.build({
      ...common,
      stdin: { contents, resolveDir: modules, sourcefile: `chunk ${name}` },
      outfile: path.join(chunksDir, `${name}.js`),
      plugins: [linkChunks(name, './')],
      banner,
    });
    fs.writeFileSync(path.join(chunksDir, `${name}.js`), ascii(outputFiles[0].text, name));
  }
  const { outputFiles } = await esbuild.build({
    ...common,
    entryPoints: [path.join(modules, 'index.js')],
    outfile: bundle,
    plugins: [linkChunks('index', './chunks/')],
    banner,
  });
  fs.writeFileSync(bundle, lazyEntry(ascii(outputFiles[0].text, 'the entry')));
}

/** One non-ASCII character (a µ in a regular expression) makes V8 read and hold a whole file as two-byte text. */
function ascii(text, what) {
  const at = text.search(/[^ -~\t\n\r]/);
  if (at >= 0) fail(`${what} has a non-ASCII character: ${JSON.stringify(text.slice(at - 20, at + 20))} (write it as an escape)`);
  return text;
}

/**
 * The entry of the bundle initialises each module it re-exports on first use: tsc's re-exports are
 * already getters (`get: function () { return observe_1.observe; }`), and only the line that
 * initialises the module up front (`var observe_1 = require_observe();`) is replaced, by a
 * `??=` in each getter, and each getter replaces itself with a plain property on first read.
 * Each step is checked; anything unexpected fails the build.
 */
function lazyEntry(text) {
  const marker = '// dist/modules/index.js\n';
  const at = text.indexOf(marker);
  if (at < 0 || text.indexOf(marker, at + 1) >= 0) fail('the bundle has no single entry section');
  let entry = text.slice(at);
  const eager = [...entry.matchAll(/^var (\w+_1) = (require_\w+)\(\);$/gm)];
  const imported = new Set(entryImports).size;
  if (eager.length === 0 || eager.length !== imported) fail(`${eager.length} module initialisations in the entry for ${imported} imports`);
  for (const [line, local, init] of eager) {
    entry = entry.replace(line, `var ${local};`);
    const uses = entry.split(`return ${local}.`).length - 1;
    if (uses === 0) fail(`${local} is never read through a getter`);
    entry = entry.replaceAll(`return ${local}.`, `return (${local} ??= ${init}()).`);
    if (new RegExp(`\\b${local}\\b(?! \\?\\?=)(?!;)`).test(entry)) fail(`${local} is used outside the re-export getters`);
  }
  // Each getter then puts the value in its place, as a plain (read-only) property: a program that
  // calls knobs.setKeepAlive() on every connection pays the getter once, not at every call.
  const getter =
    /Object\.defineProperty\(exports, "(\w+)", \{ enumerable: true, get: function\(\) \{\n {2}return (\(\w+ \?\?= require_\w+\(\)\)\.\w+);\n\} \}\);/g;
  const getters = entry.match(getter)?.length ?? 0;
  if (getters < eager.length) fail(`${getters} re-export getters of the expected form for ${eager.length} modules`);
  entry = entry.replace(
    getter,
    'Object.defineProperty(exports, "$1", { enumerable: true, configurable: true, get: function() {\n  return settle("$1", $2);\n} });',
  );
  if (/get: function\(\) \{\n {2}return \(/.test(entry)) fail('a re-export getter that does not settle');
  const settle = [
    '// A re-export read once becomes a plain read-only property holding its value (see lazyEntry).',
    'function settle(name, value) {',
    '  Object.defineProperty(exports, name, { enumerable: true, configurable: false, writable: false, value });',
    '  return value;',
    '}',
    '',
  ].join('\n');
  return text.slice(0, at) + settle + entry;
}

function fail(why) {
  console.error(`build: ${why} (scripts/build.js, lazyEntry)`);
  process.exit(1);
}

/** The bundle offers what dist/modules offers, under the same names (functions and classes too). */
function checkBundle() {
  const check = spawnSync(
    process.execPath,
    [
      '-e',
      `const b = require(${JSON.stringify(bundle)}), m = require(${JSON.stringify(path.join(modules, 'index.js'))});
     const bad = [...new Set([...Object.keys(b), ...Object.keys(m)])].filter((k) => typeof b[k] !== typeof m[k] || (typeof m[k] === 'function' && b[k].name !== m[k].name));
     if (bad.length) { console.error('the bundle differs from dist/modules in: ' + bad.join(', ')); process.exit(1); }`,
    ],
    { cwd: root, stdio: 'inherit' },
  );
  if (check.status !== 0) fail('the bundle does not offer what dist/modules offers');
}

/**
 * The ESM twin. Named exports are bound when an ES module links: taking each from the CommonJS
 * entry would read every export, and so read every chunk (import() took 40 ms, require() 2).
 * Classes and data (the errors, the tables, the constants) are taken at import; each function is
 * exported as a forwarder that replaces its own binding with the real function at its first call
 * (importers see an ES module's binding change), so from then on there is no extra call.
 */
function writeEsmTwin() {
  const unbundled = require(path.join(modules, 'index.js'));
  const names = Object.keys(unbundled).filter((n) => n !== 'default' && n !== '__esModule');
  const isClass = (value) => /^class\b/.test(Function.prototype.toString.call(value));
  const eager = names.filter((n) => typeof unbundled[n] !== 'function' || isClass(unbundled[n]));
  const forwarded = names.filter((n) => !eager.includes(n));
  const forwarder = (n) => `export let ${n} = function (...args) {\n  ${n} = knobs.${n};\n  return ${n}.apply(this, args);\n};`;
  const lines = [
    "// socket-knobs for import: the same module instance as require('socket-knobs'), written by scripts/build.js.",
    "import { createRequire } from 'node:module';",
    '',
    '// require(), not import: importing CommonJS reads each name its exports assign, so every chunk.',
    "const knobs = createRequire(import.meta.url)('./index.js');",
    '',
    `export const { ${eager.join(', ')} } = knobs;`,
    '',
    '// Each function: a forwarder until its first call, then the function itself (scripts/build.js: writeEsmTwin).',
    ...forwarded.map(forwarder),
    'export default knobs;',
    '',
  ];
  fs.writeFileSync(path.join(dist, 'index.mjs'), lines.join('\n'));
  fs.writeFileSync(
    path.join(dist, 'index.d.mts'),
    "export * from './modules/index.js';\nimport * as knobs from './modules/index.js';\nexport default knobs;\n",
  );
}

writeBundle().then(() => {
  checkBundle();
  writeEsmTwin();
});
