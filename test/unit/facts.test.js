'use strict';
// Facts that drift (issue 25 item 5): every path the sources and docs name exists, and every
// `npm run X` names a script. A deliberately future path carries the marker `(planned)` right after it.
const fs = require('node:fs');
const path = require('node:path');
const { testIf } = require('../helpers');

const root = path.join(__dirname, '..', '..');
// The Node matrix runs the suite in a staged copy of the package, without bench/, demo/ or .ci/.
const staged = fs.existsSync(path.join(root, '.ci', 'run')) ? null : 'a staged copy of the package (no bench/, demo/, .ci/): the checkout runs it';
const TOP = ['lib/', 'src-native/', 'scripts/', 'test/', 'docs/', 'bench/', 'bin/', 'demo/', '.ci/'];
const SCANNED = ['lib', 'src-native', 'scripts', 'test', 'docs', 'CONTRIBUTING.md', 'README.md'];
const TEXT = /\.(ts|js|mjs|cjs|cc|h|md|sh|json|c)$/;
const scripts = Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).scripts);

function files(entry) {
  const full = path.join(root, entry);
  if (!fs.existsSync(full)) return [];
  if (fs.statSync(full).isFile()) return [entry];
  return fs
    .readdirSync(full, { recursive: true })
    .map((f) => path.join(entry, f))
    .filter((f) => TEXT.test(f) && !f.endsWith('.gen.ts') && !f.includes('node_modules') && fs.statSync(path.join(root, f)).isFile());
}

// This file names the patterns it checks: it is not checked against itself.
const all = SCANNED.flatMap(files).filter((f) => f !== path.join('test', 'unit', 'facts.test.js'));
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const TOKEN = new RegExp(`(?<![\\w./-])(${TOP.map(escape).join('|')})[\\w./*-]*`, 'g');

testIf(staged, 'every path named in lib/, src-native/, scripts/, test/, docs/, README.md and CONTRIBUTING.md exists', () => {
  const missing = [];
  for (const file of all) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const match of text.matchAll(TOKEN)) {
      let token = match[0].replace(/[.,:;)]+$/, '');
      if (token.includes('*')) token = token.slice(0, token.indexOf('*'));
      if (/\(planned\)/.test(text.slice(match.index + match[0].length, match.index + match[0].length + 12))) continue;
      const candidate = path.join(root, token);
      const exists = fs.existsSync(candidate) || fs.existsSync(`${candidate}.ts`) || fs.existsSync(`${candidate}.js`);
      if (!exists) missing.push(`${file}: ${token}`);
    }
  }
  expect(missing).toEqual([]);
});

testIf(staged, 'every `npm run X` names a script of package.json', () => {
  const unknown = [];
  for (const file of all) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const match of text.matchAll(/npm run ([\w:.-]+)/g)) {
      const name = match[1].replace(/[.:]+$/, '');
      if (!scripts.includes(name)) unknown.push(`${file}: npm run ${name}`);
    }
  }
  expect(unknown).toEqual([]);
});

testIf(
  staged,
  'every relative require() in scripts/, test/, bench/, bin/ and demo/ resolves from its file (a moved fixture is a failure here, not when the script next runs)',
  () => {
    const unresolved = [];
    for (const file of ['scripts', 'test', 'bench', 'bin', 'demo'].flatMap(files).filter((f) => /\.(js|cjs|mjs)$/.test(f))) {
      if (file === path.join('test', 'unit', 'facts.test.js')) continue;
      const text = fs.readFileSync(path.join(root, file), 'utf8');
      // A literal relative specifier only (template strings and variables are the script's business).
      for (const match of text.matchAll(/\brequire\((['"])(\.{1,2}\/[^'"`$]*)\1\)/g)) {
        try {
          // From the file, or from the root: scripts that tests run with `node -e` in the package's folder.
          require.resolve(match[2], { paths: [path.dirname(path.join(root, file)), root] });
        } catch {
          unresolved.push(`${file}: require('${match[2]}')`);
        }
      }
    }
    expect(unresolved).toEqual([]);
  },
);
