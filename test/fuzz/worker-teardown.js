#!/usr/bin/env node
'use strict';
// Terminates worker threads while they load socket-knobs, at staggered moments, N times:
//
//   node test/fuzz/worker-teardown.js [--workers N]
//
// A worker pool that terminates a starting worker must not take the process down. Loading the
// addon runs its module initialisation in an environment that may already be shutting down; a
// throw from there used to abort the whole process (FATAL ERROR ... napi_throw, SIGABRT). Prints a
// JSON summary; the test that spawns this script checks it exited normally.
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const args = process.argv.slice(2);
const WORKERS = args.includes('--workers') ? Number(args[args.indexOf('--workers') + 1]) : 500;
const root = path.join(__dirname, '..', '..');

// The worker loads the package (addon first, then the façade) and uses it once.
const body = `
  const knobs = require(${JSON.stringify(root)});
  knobs.isSupported('TCP_KEEPIDLE');
  require('worker_threads').parentPort.postMessage('loaded');
`;

async function main() {
  const started = Date.now();
  let loaded = 0;
  let terminated = 0;
  for (let i = 0; i < WORKERS; i++) {
    const worker = new Worker(body, { eval: true });
    worker.on('message', () => loaded++);
    worker.on('error', () => {});
    // Stagger the moment of termination over the load: at once, after 'online', or a few ms in,
    // so that some terminations land inside the addon's initialisation.
    const mode = i % 3;
    if (mode === 0) await new Promise((resolve) => setImmediate(resolve));
    else if (mode === 1) await new Promise((resolve) => worker.once('online', resolve));
    else await new Promise((resolve) => setTimeout(resolve, i % 23));
    await worker.terminate();
    terminated++;
  }
  // One more worker that is allowed to finish: the addon still loads and works after all that.
  const last = new Worker(body, { eval: true });
  const message = await new Promise((resolve, reject) => {
    last.once('message', resolve);
    last.once('error', reject);
  });
  await last.terminate();
  console.log(JSON.stringify({ workers: WORKERS, terminated, loadedBeforeTermination: loaded, last: message, ms: Date.now() - started }));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
