#!/usr/bin/env node
'use strict';
// Which names each prebuild defines, read from the binaries themselves.
//
//   npm run support [-- DIR]    reads the seven prebuilds in DIR (default prebuilds/, built by
//                               npm run prebuilds:all), writes docs/evidence/support.json, then
//                               regenerates the docs' tables from it (npm run gen)
//
// The addon carries its constant names as one string (kDefinedNames, generated into
// src-native/table.gen.h under the same #ifdefs as the constants it exports), so a binary for
// another platform says what it defines without being run: the names its platform's headers (with
// the completions in socket_knobs.cc) define. The docs' platform columns come from that file, never
// from a hand-kept list; the tests compare every binary they build or load with it
// (test/release/prebuilds.test.js, musl.test.js, support-table.test.js, the wine and Bun runs) and
// fail, naming this command, when it is stale.
const fs = require('node:fs');
const path = require('node:path');

const crypto = require('node:crypto');

const DEFINED_NAMES_BEGIN = 'socket-knobs defined names:';
// The hash of the native sources a binary was built from (src-native/source.gen.h, kSourceHash).
const SOURCE_HASH_BEGIN = 'socket-knobs source:';
const SOURCE_HASH_END = ':end of socket-knobs source';
/** The files a binary is built from (source.gen.h, which carries their hash, excepted). */
const NATIVE_SOURCES = ['binding.gyp', 'src-native/socket_knobs.cc', 'src-native/table.gen.h'];
const DEFINED_NAMES_END = ':end of socket-knobs defined names';
const root = path.join(__dirname, '..');
const SUPPORT_FILE = path.join(root, 'docs', 'evidence', 'support.json');

/** The names a built addon defines, read from its file; throws if it carries no list. */
function definedNames(file) {
  const text = fs.readFileSync(file).toString('latin1');
  const start = text.indexOf(DEFINED_NAMES_BEGIN);
  const end = start < 0 ? -1 : text.indexOf(DEFINED_NAMES_END, start);
  if (start < 0 || end < 0) throw new Error(`${file} carries no defined-names list (built before it existed?)`);
  return text
    .slice(start + DEFINED_NAMES_BEGIN.length, end)
    .split(' ')
    .filter(Boolean);
}

/** The hash of the native sources (line endings normalised); `overrides` gives a file's text before it is written (npm run gen). */
function sourceHash(overrides = {}) {
  const hash = crypto.createHash('sha256');
  for (const file of NATIVE_SOURCES) {
    const text = overrides[file] ?? fs.readFileSync(path.join(root, file), 'utf8');
    hash.update(`${file}\n${text.replace(/\r\n/g, '\n')}\n`);
  }
  return hash.digest('hex').slice(0, 24);
}

/** The source hash a built addon carries, or null (built before it did). */
function builtFrom(file) {
  const text = fs.readFileSync(file).toString('latin1');
  const start = text.indexOf(SOURCE_HASH_BEGIN);
  const end = start < 0 ? -1 : text.indexOf(SOURCE_HASH_END, start);
  return start < 0 || end < 0 ? null : text.slice(start + SOURCE_HASH_BEGIN.length, end);
}

/** docs/evidence/support.json: { targets: { 'win32-x64': [names...], ... } }, or null before the first run. */
function readSupport() {
  return fs.existsSync(SUPPORT_FILE) ? JSON.parse(fs.readFileSync(SUPPORT_FILE, 'utf8')) : null;
}

/** The differences between what a binary defines and what support.json says of its target ('' if none). */
function supportDrift(targetName, names) {
  const support = readSupport();
  const recorded = support && support.targets[targetName];
  if (!recorded) return `docs/evidence/support.json has no entry for ${targetName}: run npm run support`;
  const missing = recorded.filter((n) => !names.includes(n));
  const extra = names.filter((n) => !recorded.includes(n));
  if (!missing.length && !extra.length) return '';
  return (
    `${targetName} ${extra.length ? `defines ${extra.join(', ')}` : ''}${extra.length && missing.length ? ' and ' : ''}` +
    `${missing.length ? `lacks ${missing.join(', ')}` : ''}, unlike docs/evidence/support.json: rebuild the prebuilds and run npm run support`
  );
}

module.exports = {
  DEFINED_NAMES_BEGIN,
  DEFINED_NAMES_END,
  SOURCE_HASH_BEGIN,
  SOURCE_HASH_END,
  NATIVE_SOURCES,
  SUPPORT_FILE,
  builtFrom,
  definedNames,
  readSupport,
  sourceHash,
  supportDrift,
};

if (require.main === module) {
  const { TARGETS, relativePath } = require('./targets');
  const dir = path.resolve(process.argv[2] || path.join(root, 'prebuilds'));
  const missing = TARGETS.filter((t) => !fs.existsSync(path.join(dir, relativePath(t))));
  if (missing.length) {
    console.error(`support: missing ${missing.map((t) => `${dir}/${relativePath(t)}`).join(', ')}; build them with npm run prebuilds:all`);
    process.exit(1);
  }
  const targets = {};
  for (const t of TARGETS) targets[t.name] = definedNames(path.join(dir, relativePath(t)));
  const doc = {
    about: 'The names each prebuild defines, read from the binaries by npm run support (scripts/support.js); the docs tables come from here.',
    targets,
  };
  fs.writeFileSync(SUPPORT_FILE, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`wrote ${path.relative(root, SUPPORT_FILE)}: ${TARGETS.map((t) => `${t.name} ${targets[t.name].length}`).join(', ')}`);
  require('node:child_process').execFileSync(process.execPath, [path.join(__dirname, 'build.js'), '--no-native', '--write-generated'], { stdio: 'inherit' });
}
