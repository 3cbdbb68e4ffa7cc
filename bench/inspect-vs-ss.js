'use strict';
// The operator's tool against `ss` (issue 28's budget): one process holding 10,000 TCP sockets
// (5,000 loopback connections to its own server, both ends), read by
//   - `ss -tinp` (every TCP socket with TCP_INFO and the owning process: what ss can tell),
//   - inspectProcess(pid) in this process (the diagnostics, and the tuning through borrowed fds),
//   - `socket-knobs --pid PID` end to end, Node's start included,
// each run 7 times alternately; medians, each ratio the median of the runs' ratios to the ss run beside them.
// Needs root (pidfd_getfd on another process) and ss. Run alone: `node bench/inspect-vs-ss.js`
// (--json: the figures as JSON, which npm run bench reads).
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const knobs = require('..');

const CONNECTIONS = 5000;
const RUNS = 7;
const BIN = path.join(__dirname, '..', 'bin', 'socket-knobs.js');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The CLI's runs (and `node -e 0` beside them) go without NODE_EXTRA_CA_CERTS: an environment that
// sets it (this VM's does) makes every Node start read and parse that file of certificates before
// any code runs, which is the environment's cost, not the tool's. The table gives both starts.
const CLEAN_ENV = { ...process.env };
delete CLEAN_ENV.NODE_EXTRA_CA_CERTS;

/** A child holding CONNECTIONS loopback connections to its own server (2 × CONNECTIONS sockets, and the listener), tuned. */
async function holder() {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const net = require('net'); const knobs = require(${JSON.stringify(path.join(__dirname, '..'))});
       let open = 0; let accepted = 0; const all = [];
       const ready = () => open === ${CONNECTIONS} && accepted === ${CONNECTIONS} && process.send('ready');
       const server = net.createServer((s) => { all.push(s); accepted++; ready(); });
       server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
         for (let i = 0; i < ${CONNECTIONS}; i++) { const c = net.connect(server.address().port, '127.0.0.1', () => {
           knobs.tune(c, { keepAlive: { idle: 60, interval: 10, count: 3 }, userTimeout: 30000 });
           open++; ready(); }); c.on('error', () => {}); all.push(c); } });
       process.on('message', () => process.exit(0));`,
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the holder exited (${code})`)));
  });
  return child;
}

/**
 * The borrowing's kernel work alone, in ms: bench/borrow-floor.c on one thread, each fd of `pid`
 * borrowed, fstat-ed, read with the reads the inspector makes (the tuning fields its diagnostics
 * do not give), closed. Null where cc is missing.
 */
function borrowFloorMs(pid) {
  const binary = path.join(__dirname, 'out', 'borrow-floor');
  try {
    if (!fs.existsSync(binary)) {
      fs.mkdirSync(path.dirname(binary), { recursive: true });
      execFileSync('cc', ['-O2', '-o', binary, path.join(__dirname, 'borrow-floor.c')], { stdio: 'pipe' });
    }
  } catch {
    return null;
  }
  const known = ['receiveBufferSize', 'sendBufferSize', 'congestionControl', 'mark']; // what the diagnostics give as root (lib/inspect/borrow.ts)
  const { reads } = require('../dist/modules/tuning/readback.js').tuningReads(known);
  const args = reads.flatMap(({ option, size }) => [option.level, option.option, size].map(String));
  return JSON.parse(execFileSync(binary, [String(pid), ...args], { encoding: 'utf8' })).ms;
}

function timed(fn) {
  const start = process.hrtime.bigint();
  const result = fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, result };
}

async function inspectVsSs(progress = () => {}) {
  if (spawnSync('ss', ['-V']).error) return { skipped: 'no ss command (iproute2)' };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return { skipped: 'not root (pidfd_getfd on another process)' };
  progress(`inspectProcess() vs ss -tinp: a process with ${CONNECTIONS * 2} TCP sockets`);
  const child = await holder();
  const runs = { ss: [], api: [], limited: [], cli: [], json: [] };
  let rows = 0;
  let first;
  const borrowFloors = [];
  let borrowFloor;
  try {
    // The first call in a process runs its code cold (interpreted, a small heap): timed apart, as
    // the CLI pays it; the API's figure is that of a process that has called it before.
    first = timed(() => knobs.inspectProcess(child.pid)).ms;
    for (let i = 0; i < RUNS; i++) {
      runs.ss.push(timed(() => spawnSync('ss', ['-tinp'], { maxBuffer: 1 << 30 })).ms);
      const api = timed(() => knobs.inspectProcess(child.pid));
      runs.api.push(api.ms);
      rows = api.result.connections.filter((c) => c.tuning).length;
      runs.limited.push(timed(() => knobs.inspectProcess(child.pid, { limit: 50 })).ms);
      runs.cli.push(timed(() => spawnSync(process.execPath, [BIN, '--pid', String(child.pid)], { maxBuffer: 1 << 30, env: CLEAN_ENV })).ms);
      runs.json.push(timed(() => spawnSync(process.execPath, [BIN, '--json', '--pid', String(child.pid)], { maxBuffer: 1 << 30, env: CLEAN_ENV })).ms);
      borrowFloors.push(borrowFloorMs(child.pid));
    }
    borrowFloor = borrowFloors.includes(null) ? null : median(borrowFloors);
  } finally {
    child.kill();
  }
  const start = median(Array.from({ length: RUNS }, () => timed(() => spawnSync(process.execPath, ['-e', '0'], { env: CLEAN_ENV })).ms));
  const startAsIs = median(Array.from({ length: RUNS }, () => timed(() => spawnSync(process.execPath, ['-e', '0'])).ms));
  const certificates = process.env.NODE_EXTRA_CA_CERTS ?? null;
  // Each ratio is the median of the runs' own ratios (each run's figure over the ss run beside it):
  // this VM's load drifts from minute to minute, and a ratio of medians mixes moments.
  const ratio = (kind) => median(runs[kind].map((ms, i) => ms / runs.ss[i]));
  return {
    ss: median(runs.ss),
    api: median(runs.api),
    limited: median(runs.limited),
    first,
    cli: median(runs.cli),
    json: median(runs.json),
    ratios: { api: ratio('api'), limited: ratio('limited'), cli: ratio('cli'), json: ratio('json') },
    start,
    startAsIs,
    certificates,
    rows,
    borrowFloor,
  };
}

function inspectVsSsLines(f) {
  const label = `the operator's tool on a process with ${CONNECTIONS * 2} TCP sockets (${RUNS} runs each, alternating, medians; each ratio the median of the runs' ratios to the ss run beside them)`;
  if (f.skipped) return [`| ${label} | not measured: ${f.skipped} |`];
  const goal = (ok, text) => `${text}${ok ? '' : ' **(above the goal)**'}`;
  return [
    `| ${label}: \`ss -tinp\` | ${f.ss.toFixed(0)} ms |`,
    `| the same: \`inspectProcess(pid)\` (${f.rows} sockets with their tuning read) | ${goal(f.ratios.api <= 1, `${f.api.toFixed(0)} ms, ${f.ratios.api.toFixed(2)}× ss (goal ≤ 1); the first call in a process ${f.first.toFixed(0)} ms`)} |`,
    `| the same: \`inspectProcess(pid, { limit: 50 })\` (50 rows, and the summary of all: the others counted, not decoded) | ${f.limited.toFixed(0)} ms, ${f.ratios.limited.toFixed(2)}× ss |`,
    `| the same: \`socket-knobs --pid\` (a summary and 50 rows), Node's start included${f.certificates ? ' (without NODE_EXTRA_CA_CERTS, which this environment sets)' : ''} | ${goal(f.ratios.cli <= 1.5, `${f.cli.toFixed(0)} ms, ${f.ratios.cli.toFixed(2)}× ss (goal ≤ 1.5); \`node -e 0\` alone: ${f.start.toFixed(0)} ms${f.certificates ? ` (${f.startAsIs.toFixed(0)} ms with NODE_EXTRA_CA_CERTS)` : ''}`)} |`,
    `| the same: \`socket-knobs --json --pid\` (every row, ${(f.rows / 1000).toFixed(0)}k objects as JSON) | ${f.json.toFixed(0)} ms, ${f.ratios.json.toFixed(2)}× ss |`,
    f.borrowFloor === null
      ? '| the borrowing alone in C | not measured: no C compiler |'
      : `| the floor under the CLI: the borrowing's syscalls alone in C (bench/borrow-floor.c: pidfd_getfd, fstat, the tuning's getsockopts, close per fd), one thread | ${f.borrowFloor.toFixed(0)} ms; with \`node -e 0\`: ${(f.borrowFloor + f.start).toFixed(0)} ms, ${((f.borrowFloor + f.start) / f.ss).toFixed(2)}× ss (on two threads, with Node's start: ${((f.borrowFloor / 2 + f.start) / f.ss).toFixed(2)}× ss) |`,
  ];
}

module.exports = { inspectVsSs, inspectVsSsLines };

if (require.main === module) {
  inspectVsSs((line) => console.error(`[bench] ${line}`)).then(
    (f) => console.log(process.argv.includes('--json') ? JSON.stringify(f) : inspectVsSsLines(f).join('\n')),
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
