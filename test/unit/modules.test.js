'use strict';
// The package loads the way users load it: CommonJS require, ESM import, and inside worker threads
// (the addon is context-aware: each thread gets its own instance).
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const root = path.join(__dirname, '..', '..');

// Each script connects a loopback pair, sets keepalive through socket-knobs, reads it back from the
// kernel and prints the result as JSON.
const probeBody = `
  const server = net.createServer((s) => s.destroy()).listen(0, '127.0.0.1', () => {
    const c = net.connect(server.address().port, '127.0.0.1', () => {
      knobs.setKeepAlive(c, { idle: 11, interval: 3, count: 2 });
      const result = { ka: knobs.getKeepAlive(c), idle: knobs.constants.TCP_KEEPIDLE, error: typeof knobs.SyscallError };
      c.destroy(); server.close();
      report(result);
    });
  });`;

function runNode(args, input) {
  const out = spawnSync(process.execPath, args, { cwd: root, input, encoding: 'utf8', timeout: 20000 });
  expect(out.stderr).toBe('');
  expect(out.status).toBe(0);
  return JSON.parse(out.stdout);
}

const expected = { ka: { enable: true, idle: 11, interval: 3, count: 2 }, idle: 4, error: 'function' };
if (process.platform !== 'linux') expected.idle = expect.any(Number);

test('CommonJS require', () => {
  const script = `const knobs = require(${JSON.stringify(root)}); const net = require('net'); const report = (r) => console.log(JSON.stringify(r));${probeBody}`;
  expect(runNode(['-e', script])).toEqual(expected);
});

test('ESM import by package name resolves the ESM entry with named exports', () => {
  const script = `import * as knobs from 'socket-knobs'; import net from 'node:net'; const report = (r) => console.log(JSON.stringify(r));${probeBody}`;
  // Resolve 'socket-knobs' through the package's own "exports" (self-reference).
  expect(runNode(['--input-type=module', '-e', script])).toEqual(expected);
  const defaults = `import { setKeepAlive, constants, SocketOptionError } from 'socket-knobs'; console.log(JSON.stringify([typeof setKeepAlive, Object.isFrozen(constants), typeof SocketOptionError]));`;
  expect(runNode(['--input-type=module', '-e', defaults])).toEqual(['function', true, 'function']);
});

test('ESM and CommonJS share one instance (no dual-package hazard for instanceof)', () => {
  const script = `import { createRequire } from 'node:module'; import * as esm from 'socket-knobs';
    const cjs = createRequire(import.meta.url)('socket-knobs');
    const before = esm.isSupported === cjs.isSupported;
    const answers = [esm.isSupported('SO_KEEPALIVE'), esm.isSupported('SO_KEEPALIVE')];
    console.log(JSON.stringify([esm.SocketOptionError === cjs.SocketOptionError, esm.constants === cjs.constants, before, answers, esm.isSupported === cjs.isSupported]));`;
  // A function is a forwarder until its first call (import() then reads no chunk it does not
  // need), and the function itself after it.
  expect(runNode(['--input-type=module', '-e', script])).toEqual([true, true, false, [true, true], true]);
});

test('worker threads: four workers at once, each with its own addon instance, each sees the kernel', async () => {
  const script = `const knobs = require(${JSON.stringify(root)}); const net = require('net'); const { parentPort } = require('worker_threads'); const report = (r) => parentPort.postMessage(r);${probeBody}`;
  const results = await Promise.all(
    [1, 2, 3, 4].map(
      () =>
        new Promise((resolve, reject) => {
          const worker = new Worker(script, { eval: true });
          worker.once('message', (m) => {
            resolve(m);
            worker.terminate();
          });
          worker.once('error', reject);
        }),
    ),
  );
  for (const result of results) expect(result).toEqual(expected);
});

test("require() loads none of Node's networking modules: each feature loads what it needs when first used", () => {
  // Checked in a fresh process, against what a bare `node -e` has loaded.
  const script = `
    const before = new Set(process.moduleLoadList);
    const knobs = require(${JSON.stringify(root)});
    const loaded = process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).map((m) => m.slice(13));
    console.log(JSON.stringify({ loaded, addon: knobs.addonPath() !== null }));`;
  const { loaded, addon } = runNode(['-e', script]);
  expect(addon).toBe(true);
  for (const name of ['http', 'https', 'tls', 'dns', 'cluster', 'http2', 'net', 'dgram', 'os', 'diagnostics_channel'])
    expect({ name, loaded: loaded.includes(name) }).toEqual({ name, loaded: false });
});

test("require() reads only the entry; each capability's chunk is read on first use of one of its exports", () => {
  const pkg = require('../../package.json');
  const main = require.resolve(root);
  expect(path.relative(root, main)).toBe(pkg.main);
  // Which of the package's files are loaded after require(), then after each first use.
  const script = `
    const dist = ${JSON.stringify(path.join(root, 'dist'))};
    const files = () => Object.keys(require.cache).filter((f) => f.startsWith(dist)).map((f) => f.slice(dist.length + 1)).sort();
    const knobs = require(${JSON.stringify(root)});
    const steps = [['require', files()]];
    for (const name of ['setKeepAlive', 'getTcpInfo', 'tune', 'tuneServer', 'observe', 'inspectProcess', 'dial', 'listen']) {
      knobs[name];
      steps.push([name, files()]);
    }
    console.log(JSON.stringify(steps));`;
  const steps = Object.fromEntries(runNode(['-e', script]));
  expect(steps.require).toEqual(['index.js']);
  expect(steps.setKeepAlive).toEqual(['chunks/base.js', 'index.js']);
  expect(steps.getTcpInfo).toEqual(['chunks/base.js', 'index.js']);
  expect(steps.tune).toEqual(['chunks/base.js', 'chunks/tuning.js', 'index.js']);
  expect(steps.tuneServer).toEqual(expect.arrayContaining(['chunks/servers.js', 'chunks/clients.js']));
  expect(steps.observe).toContain('chunks/observe.js');
  expect(steps.observe).not.toContain('chunks/dial.js');
  // Every export read: every chunk, each once.
  const chunks = require('node:fs')
    .readdirSync(path.join(root, 'dist', 'chunks'))
    .map((f) => `chunks/${f}`);
  expect(steps.listen).toEqual([...chunks, 'index.js'].sort());
  // No per-module file of dist/modules is loaded: chunks only.
  expect(steps.listen.filter((f) => f.startsWith('modules/'))).toEqual([]);
});

test('reloaded 100 times (a test runner resetting its registry, a hot reloader): every copy works, and collected copies free their slots', () => {
  // Each fresh copy binds its own scratch arrays in the addon. Before weak references there were 16
  // slots per thread, and the 17th copy failed at load.
  const script = `
    const net = require('node:net');
    const entry = require.resolve('./');
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const socket = net.connect(server.address().port, '127.0.0.1', () => {
        for (let i = 0; i < 100; i++) {
          for (const key of Object.keys(require.cache)) if (key.startsWith(${JSON.stringify(path.join(root, 'dist'))})) delete require.cache[key];
          const knobs = require(entry);
          knobs.setKeepAlive(socket, { idle: 10 + (i % 50) });
          if (knobs.getKeepAlive(socket).idle !== 10 + (i % 50) || knobs.getTcpInfo(socket).state !== 'ESTABLISHED') throw new Error('copy ' + i + ' read back something else');
          if (i % 25 === 24) global.gc();
        }
        // The slots themselves: arrays nobody keeps are collected and their slots reused; arrays
        // kept alive each hold one, up to a bound that is a clear error.
        const { native } = require('./dist/modules/core/native.js');
        const slots = new Set();
        for (let i = 0; i < 2000; i++) {
          slots.add(native.bindScratch(new Int32Array(64), new Uint8Array(8)));
          if (i % 100 === 99) global.gc();
        }
        const kept = [];
        let refused = '';
        try {
          for (let i = 0; i < 5000; i++) {
            const pair = [new Int32Array(64), new Uint8Array(8)];
            kept.push(pair);
            native.bindScratch(pair[0], pair[1]);
          }
        } catch (err) {
          refused = err.message;
        }
        console.log(JSON.stringify({ distinctSlots: slots.size, keptBeforeRefusal: kept.length - 1, refused }));
        socket.destroy();
        server.close();
      });
    });`;
  const out = spawnSync(process.execPath, ['--expose-gc', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60000 });
  expect(out.stderr).toBe('');
  const result = JSON.parse(out.stdout);
  expect(result.distinctSlots).toBeLessThan(400); // 2000 binds, collected as they go
  expect(result.keptBeforeRefusal).toBeGreaterThan(3500); // the bound counts live copies only
  expect(result.keptBeforeRefusal).toBeLessThanOrEqual(4096);
  expect(result.refused).toMatch(/4096 copies of socket-knobs are alive/);
});
