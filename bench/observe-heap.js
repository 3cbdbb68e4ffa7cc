'use strict';
// One heap measurement of bench/observe-vs-ss.js, in a fresh process so that nothing of another
// measurement is on the heap: a server accepts N connections (held by a child process) while
// observed as `mode` says (none, plain: observe() without an exporter, prom: with a prom-client
// registry, after every connection's first sample and a scrape); prints the heap used after full
// GCs, in bytes, as one JSON line.
const { spawn } = require('node:child_process');
const net = require('node:net');
const v8 = require('node:v8');
const vm = require('node:vm');
const knobs = require('..');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const [mode, count] = [process.argv[2], Number(process.argv[3])];
const INTERVAL = 2000;

(async () => {
  const registry = new (require('prom-client').Registry)();
  const server = net.createServer((s) => s.on('error', () => {}));
  if (mode !== 'none') knobs.observe(server, { interval: INTERVAL, ...(mode === 'prom' ? { registry } : {}) });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', 8192, resolve));
  const holder = spawn(
    process.execPath,
    [
      '-e',
      `const net = require('net'); let n = 0; const all = [];
       for (let i = 0; i < ${count}; i++) all.push(net.connect(${server.address().port}, '127.0.0.1', () => { if (++n === ${count}) console.log('ready'); }).on('error', () => {}));
       process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  await new Promise((resolve) => holder.stdout.once('data', resolve));
  // Every connection sampled at least once (the first wait is at most 1.5 x the interval), and scraped.
  await new Promise((resolve) => setTimeout(resolve, 1.6 * INTERVAL));
  if (mode === 'prom') await registry.metrics();
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const connections = server._connections;
  process.stdout.write(`${JSON.stringify({ heapUsed: process.memoryUsage().heapUsed, connections })}\n`, () => {
    holder.stdin.end();
    process.exit(0);
  });
})();
