'use strict';
// Every TypeScript snippet of the README and docs/ (```ts blocks) compiles under `strict`, against
// the package's own .d.ts files and the real client packages' types (undici, pg, ioredis, mysql2).
// Each snippet is its own module; a few names it may use without declaring (`tuning`, `socket`,
// `server`, `handler`) come from a preamble, which it may shadow.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const DOCS = [
  'README.md',
  ...fs
    .readdirSync(path.join(root, 'docs'), { recursive: true })
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join('docs', f)),
];

const IMPORTS = [
  "import * as net from 'node:net';",
  "import * as http from 'node:http';",
  "import * as https from 'node:https';",
  "import * as http2 from 'node:http2';",
  "import * as undici from 'undici';",
  "import pg from 'pg';",
  "import { Redis } from 'ioredis';",
  "import mysql from 'mysql2/promise';",
  "import knobs from 'socket-knobs';",
  "import type { Tuning } from 'socket-knobs';",
];
const AMBIENT = {
  tuning: 'declare const tuning: Tuning;',
  socket: 'declare const socket: net.Socket;',
  server: 'declare const server: net.Server;',
  handler: 'declare const handler: (socket: net.Socket) => void;',
};

/** The ```ts blocks of a markdown file, with their line numbers. */
function snippets(file) {
  const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end].trim() !== '```') end++;
    out.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return out;
}

const all = DOCS.flatMap((file) => snippets(file).map((s) => ({ file, ...s })));

test('the README and docs have TypeScript snippets, and the client recipes are among them', () => {
  expect(all.length).toBeGreaterThanOrEqual(10);
  const code = all.map((s) => s.code).join('\n');
  for (const recipe of ['tuneConnector', 'tuneAgent', "pool.on('connect'", "redis.on('connect'", "on('connection'"]) expect(code).toContain(recipe);
});

test('every snippet compiles under strict against the real packages’ types', () => {
  const dir = path.join(root, 'node_modules', '.cache', 'socket-knobs', 'snippets');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const names = [];
  const firstLine = []; // the file line where each snippet's code starts
  all.forEach((snippet, i) => {
    const declared = new Set([...snippet.code.matchAll(/\b(?:const|let|var|function|class|import|import \* as)\s+([A-Za-z_$][\w$]*)/g)].map((m) => m[1]));
    // The preamble's imports and names, but those the snippet binds itself.
    const imports = IMPORTS.filter((line) => !declared.has(/import (?:\* as |type \{ |\{ )?(\w+)/.exec(line)[1]));
    const ambient = Object.entries(AMBIENT)
      .filter(([name]) => !declared.has(name))
      .map(([, line]) => line);
    const name = `s${i}.mts`;
    names.push(name);
    firstLine.push(2 + imports.length + ambient.length);
    fs.writeFileSync(path.join(dir, name), [`// ${snippet.file}:${snippet.line}`, ...imports, ...ambient, snippet.code, 'export {};', ''].join('\n'));
  });
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        paths: { 'socket-knobs': [path.join(root, 'dist', 'index.d.mts')] },
      },
      files: names,
    }),
  );
  const run = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(dir, 'tsconfig.json')], {
    encoding: 'utf8',
    timeout: 120000,
  });
  // Name each failing snippet by its document and line.
  const report = (run.stdout + run.stderr).replace(
    /s(\d+)\.mts\((\d+),(\d+)\)/g,
    (_, i, line) => `${all[i].file}:${all[i].line + Number(line) - firstLine[i]}`,
  );
  expect(report).toBe('');
  expect(run.status).toBe(0);
}, 120000);
