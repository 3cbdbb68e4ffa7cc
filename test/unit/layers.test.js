'use strict';
// The layering CONTRIBUTING.md draws, checked on the sources: lib/core <- lib/node (the attachment
// layer: fd lookup, Node's kinds, the hook registry) <- lib/options <- lib/tuning <- the
// capabilities in lib/*.ts <- lib/index.ts. A module imports only from its own layer or the
// layers below; nothing imports in a cycle; only lib/core/syscall.ts imports lib/core/native.ts.
const fs = require('node:fs');
const path = require('node:path');

const lib = path.join(__dirname, '..', '..', 'lib');
const files = fs.readdirSync(lib, { recursive: true }).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));

/** The layer of a module, by folder: 0 core, 1 node, 2 options, 3 tuning, 4 capabilities, 5 the index. */
function layer(file) {
  if (file === 'index.ts') return 5;
  const folder = file.includes(path.sep) ? file.split(path.sep)[0] : '';
  // A capability split by concern keeps its parts in a folder of its own name (lib/dial/): layer 4.
  return { core: 0, node: 1, options: 2, tuning: 3 }[folder] ?? 4;
}

/** The package modules `file` imports (type-only imports count: they are edges of the design too). */
function importsOf(file) {
  const source = fs.readFileSync(path.join(lib, file), 'utf8');
  const specifiers = [...source.matchAll(/(?:from|require\()\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
  return specifiers.map((s) => path.relative(lib, path.resolve(path.dirname(path.join(lib, file)), s)) + '.ts');
}

const graph = Object.fromEntries(files.map((f) => [f, importsOf(f)]));

test('every import points at an existing module of the same layer or a lower one', () => {
  const backEdges = [];
  for (const [file, imports] of Object.entries(graph)) {
    for (const target of imports) {
      expect({ file, target, exists: files.includes(target) }).toEqual({ file, target, exists: true });
      if (layer(target) > layer(file)) backEdges.push(`${file} -> ${target}`);
    }
  }
  expect(backEdges).toEqual([]);
});

test('no import cycles', () => {
  const cycles = [];
  const state = {};
  const visit = (file, trail) => {
    if (state[file] === 'done') return;
    if (state[file] === 'open') {
      cycles.push([...trail.slice(trail.indexOf(file)), file].join(' -> '));
      return;
    }
    state[file] = 'open';
    for (const next of graph[file]) visit(next, [...trail, file]);
    state[file] = 'done';
  };
  for (const file of files) visit(file, []);
  expect(cycles).toEqual([]);
});

test('only the syscall module imports native.ts', () => {
  const importers = files.filter((f) => graph[f].includes(path.join('core', 'native.ts')));
  expect(importers).toEqual([path.join('core', 'syscall.ts')]);
});

test('lib/index.ts is a list: it only re-exports', () => {
  const code = fs
    .readFileSync(path.join(lib, 'index.ts'), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/export (type )?\{[^}]*\} from '[^']+';/g, '')
    .trim();
  expect(code).toBe('');
});

test("Node's internals are touched only in the attachment layer (lib/node) and the one syscall door", () => {
  // _handle, _destroy, createConnection/keepSocketAlive replacement, diagnostics channels, cluster:
  // the things a Node release may change. Each has one home.
  const INTERNALS = /\._handle\b|\._destroy\b|\.createConnection\s*=|\.keepSocketAlive\s*=|diagnostics_channel|node:cluster|_pipeName/;
  const outside = files.filter((f) => !f.startsWith(`node${path.sep}`));
  const touching = outside.filter((f) =>
    INTERNALS.test(
      fs
        .readFileSync(path.join(lib, f), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, ''),
    ),
  );
  expect(touching).toEqual([]);
});

test("a capability's parts (lib/<capability>/) are imported only by that capability's entry and each other", () => {
  const strays = [];
  for (const [file, imports] of Object.entries(graph)) {
    for (const target of imports) {
      const folder = target.includes(path.sep) ? target.split(path.sep)[0] : '';
      if (!['', 'core', 'node', 'options', 'tuning'].includes(folder) && file !== `${folder}.ts` && !file.startsWith(`${folder}${path.sep}`))
        strays.push(`${file} -> ${target}`);
    }
  }
  expect(strays).toEqual([]);
});
