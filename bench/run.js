#!/usr/bin/env node
'use strict';
// `npm run bench`: what socket-knobs costs, against the physical limit (a C loop of the same
// syscalls) and against what a user would pick instead, all in one run. Rounds alternate between
// the C loop and every JS row, so a noisy neighbour slows all of them alike; each figure is the
// median over the rounds. Writes the table to stdout and into docs/evidence/performance.md
// (between the bench markers) with the machine, the Node version and the command.
//   options: --rounds N (default 7), --iterations N (default 50000), --server-rounds N (15),
//            --connections N (1000 per server round), --no-write, --facade-only (the per-call
//            table alone, nothing written)
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const knobs = require('..');
const { observeVsSs, observeVsSsLines } = require('./observe-vs-ss');
const { inspectVsSsLines } = require('./inspect-vs-ss');
const { alternatives } = require('./alternatives');
const { facadeRows, facadeResults, pairedRatios, scavengesOver } = require('./facade');

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const ROUNDS = option('--rounds', 7);
const ITERATIONS = option('--iterations', 50000);
const PAIRED_ROUNDS = 21;
const PAIRED_ITERATIONS = 10000;
const SERVER_CONNECTIONS = option('--connections', 1000);
const SERVER_ROUNDS = option('--server-rounds', 15);
const DIAL_ROUNDS = option('--dial-rounds', 5);
const DIAL_CONNECTIONS = option('--dial-connections', 10000);

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const progress = (text) => process.stderr.write(`${text}\n`);

function buildC() {
  const out = path.join(__dirname, 'out');
  fs.mkdirSync(out, { recursive: true });
  const binary = path.join(out, 'syscalls');
  execFileSync('cc', ['-O2', '-o', binary, path.join(__dirname, 'syscalls.c')]);
  // The same loop as an addon, to run inside this process; skipped if Node's headers are missing.
  let floor = null;
  const headers = path.join(path.dirname(process.execPath), '..', 'include', 'node');
  try {
    const addon = path.join(out, 'floor.node');
    execFileSync('cc', ['-O2', '-shared', '-fPIC', `-I${headers}`, '-o', addon, path.join(__dirname, 'floor.c')], { stdio: 'pipe' });
    floor = require(addon);
  } catch (err) {
    progress(`the in-process C floor is skipped: ${String(err.message).split('\n')[0]}`);
  }
  return { binary, floor };
}

function loopbackPair() {
  return new Promise((resolve) => {
    let client;
    let accepted;
    let connected = false;
    const done = () => accepted && connected && resolve({ server, client, accepted });
    const server = net.createServer((socket) => {
      accepted = socket;
      done();
    });
    server.listen(0, '127.0.0.1', () => {
      client = net.connect(server.address().port, '127.0.0.1', () => {
        connected = true; // socket-knobs refuses a socket that is still connecting
        done();
      });
    });
  });
}

/** Nanoseconds per call of `fn` over `n` calls (after a short warm-up). */
function timeLoop(fn, n) {
  for (let i = 0; i < 5000; i++) fn(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - start) / n;
}

/**
 * Connections per second accepted by a server that tunes each one, and by one that does not. The
 * machine's noise between rounds (±30% here) is far larger than the difference, so each round
 * measures both, back to back in alternating order, and the overhead is the median of the rounds'
 * own ratios, with the quartiles to show the spread.
 */
async function serverRounds(rounds) {
  const server = spawn(process.execPath, [path.join(__dirname, 'accept-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ports = await new Promise((resolve, reject) => {
    server.stdout.once('data', (d) => resolve(JSON.parse(d)));
    server.once('exit', (code) => reject(new Error(`accept-server exited (${code})`)));
  });
  const KINDS = Object.keys(ports);
  const rates = Object.fromEntries(KINDS.map((k) => [k, []]));
  const overheads = Object.fromEntries(KINDS.filter((k) => k !== 'plain').map((k) => [k, []]));
  try {
    for (let r = 0; r < rounds; r++) {
      const round = {};
      for (let k = 0; k < KINDS.length; k++) {
        const kind = KINDS[(k + r) % KINDS.length];
        const out = spawnSync(process.execPath, [path.join(__dirname, 'connect-load.js'), String(ports[kind]), String(SERVER_CONNECTIONS), '32'], {
          encoding: 'utf8',
          timeout: 120000,
        });
        if (out.status !== 0) throw new Error(`load generator failed: ${out.stderr}`);
        round[kind] = JSON.parse(out.stdout).perSecond;
        rates[kind].push(round[kind]);
      }
      for (const kind of Object.keys(overheads)) overheads[kind].push((1 - round[kind] / round.plain) * 100);
      progress(`  server round ${r + 1}/${rounds}: ${KINDS.map((k) => `${k} ${round[k].toFixed(0)}/s`).join(', ')}`);
    }
  } finally {
    server.kill();
  }
  const spread = (values) => {
    const sorted = [...values].sort((a, b) => a - b);
    const quartile = (q) => sorted[Math.round(q * (sorted.length - 1))];
    return { overhead: median(values), q1: quartile(0.25), q3: quartile(0.75) };
  };
  return {
    rate: Object.fromEntries(KINDS.map((k) => [k, median(rates[k])])),
    overhead: Object.fromEntries(Object.entries(overheads).map(([k, v]) => [k, spread(v)])),
  };
}

/**
 * dial()'s CPU per connection (issue 29), each ratio from one client process making both kinds'
 * connections to the same untuned loopback server in alternating batches (bench/connect-load.js,
 * paired()): dial({ host, port }) (nothing before connect) against net.connect(), and dial() with
 * pre-connect fields against its floor, a socket made by the addon and adopted by hand (new
 * net.Socket({ fd }).connect()); each to an IP address and to a host name with the same `lookup`.
 * Every kind hands its socket over once connected, as dial() does; the last pair measures dial()
 * against the floor with its listeners attached before connect(). Medians over the rounds.
 */
async function dialRounds(rounds) {
  const server = spawn(process.execPath, [path.join(__dirname, 'accept-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ports = await new Promise((resolve, reject) => {
    server.stdout.once('data', (d) => resolve(JSON.parse(d)));
    server.once('exit', (code) => reject(new Error(`accept-server exited (${code})`)));
  });
  const PAIRS = {
    plain: 'net/dial-plain',
    early: 'adopt/dial',
    plainName: 'net-name/dial-plain-name',
    earlyName: 'adopt-name/dial-name',
    handOver: 'adopt-early/dial',
  };
  const cpu = {};
  let batch;
  const ratios = Object.fromEntries(Object.keys(PAIRS).map((p) => [p, []]));
  try {
    for (let r = 0; r < rounds; r++) {
      const line = [];
      for (const [pair, kinds] of Object.entries(PAIRS)) {
        const out = spawnSync(process.execPath, [path.join(__dirname, 'connect-load.js'), String(ports.plain), String(DIAL_CONNECTIONS), '32', kinds], {
          encoding: 'utf8',
          timeout: 120000,
        });
        if (out.status !== 0) throw new Error(`load generator failed: ${out.stderr}`);
        const result = JSON.parse(out.stdout);
        batch = result.batch;
        ratios[pair].push(result.ratio);
        for (const [kind, us] of Object.entries(result.cpuPerConnection)) (cpu[kind] ??= []).push(us);
        line.push(`${kinds} ${result.ratio.toFixed(3)}`);
      }
      progress(`  dial round ${r + 1}/${rounds}: CPU ratios ${line.join(', ')}`);
    }
  } finally {
    server.kill();
  }
  const med = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, median(v)]));
  return { cpu: med(cpu), ratio: med(ratios), batch };
}

/** The dial() rows of the figure table, each against its goal (issue 29: ≤ 1.10×). */
function dialLines(d) {
  const goal = (ratio) => `${ratio.toFixed(2)}× (goal ≤ 1.10)${ratio > 1.1 ? ' **(above the goal)**' : ''}`;
  const what = `loopback, both in one client process in alternating batches of ${d.batch} connections (${DIAL_CONNECTIONS} each), ${DIAL_ROUNDS} rounds, CPU of the process per connection; the ratio is the median of the rounds' medians of the batches' ratios`;
  return [
    `| dial({ host: IP, port }) vs net.connect(), ${what} | ${d.cpu['dial-plain'].toFixed(1)} µs vs ${d.cpu.net.toFixed(1)} µs: ${goal(d.ratio.plain)} |`,
    `| dial({ synRetries: 2, tuning: { receiveBufferSize } }) vs its floor (by hand: the addon's socket(), the same two setsockopt, new net.Socket({ fd }).connect(), handed over once connected as dial() does) | ${d.cpu.dial.toFixed(1)} µs vs ${d.cpu.adopt.toFixed(1)} µs: ${goal(d.ratio.early)} |`,
    `| the same dial() vs the floor with its listeners attached before connect() | ${d.ratio.handOver.toFixed(2)}× (the floor ${d.cpu['adopt-early'].toFixed(1)} µs) |`,
    `| the same two to a host name, each with the same \`lookup\` (answering from memory on the next tick): dial({ host: 'localhost', port, lookup }) vs net.connect() with it | ${d.cpu['dial-plain-name'].toFixed(1)} µs vs ${d.cpu['net-name'].toFixed(1)} µs: ${goal(d.ratio.plainName)} |`,
    `| the same: dial() with the pre-connect fields vs its floor (the lookup called, then the same adoption by hand) | ${d.cpu['dial-name'].toFixed(1)} µs vs ${d.cpu['adopt-name'].toFixed(1)} µs: ${goal(d.ratio.earlyName)} |`,
  ];
}

/** The server rows of the figure table. */
function serverLines(rates, cMedian, syscalls) {
  const row = (kind, what) => {
    const o = rates.overhead[kind];
    return `| ${what}, ${SERVER_ROUNDS} rounds of ${SERVER_CONNECTIONS} | ${rates.rate[kind].toFixed(0)}/s vs ${rates.rate.plain.toFixed(0)}/s untuned; overhead ${o.overhead.toFixed(1)}% (median of the rounds' ratios; quartiles ${o.q1.toFixed(1)}% to ${o.q3.toFixed(1)}%) |`;
  };
  const lines = [
    row('handler', 'server accepting loopback connections, tuning each in its handler (setKeepAlive + setUserTimeout)'),
    row('listener', "the same server with tuneServer() (mode 'listener': accepted sockets inherit the tuning)"),
    row('per-connection', "the same server made with keepAlive, with tuneServer() (mode 'both': the keepalive fields on each socket)"),
    `| the five syscalls of the handler row alone, at the C loop's cost | ${((((cMedian.setKeepAlive + cMedian.setsockopt) * rates.rate.plain) / 1e9) * 100).toFixed(1)}% of an untuned connection's time |`,
  ];
  if (syscalls) {
    lines.push(
      `| setsockopt per http connection (strace, 200 connections) | untuned ${syscalls.untuned}; tuneServer, mode 'listener' ${syscalls.listener}; tuneServer on a keepAlive server, mode 'both' ${syscalls['per-connection']} |`,
    );
  } else {
    lines.push('| setsockopt per http connection | not measured: no strace command |');
  }
  return lines;
}

/**
 * observe()'s CPU per sample: 1000 loopback connections, sampled every 20 ms for 2 s, against the
 * same connections not observed over the same time; with and without a tuning (drift reads the
 * tuning back too). Medians of 3 rounds.
 */
async function observeCost() {
  const CONNECTIONS = 1000;
  const server = net.createServer((s) => s.on('error', () => {}));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', 4096, resolve));
  const clients = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    const c = net.connect(server.address().port, '127.0.0.1');
    c.on('error', () => {});
    clients.push(new Promise((resolve) => c.once('connect', () => resolve(c))));
  }
  const sockets = await Promise.all(clients);
  const window = async (options) => {
    let samples = 0;
    const observers = options ? sockets.map((socket) => knobs.observe(socket, { interval: 20, ...options, onSample: () => samples++ })) : [];
    const cpu0 = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const cpu = process.cpuUsage(cpu0);
    for (const o of observers) o.stop();
    return { cpuUs: cpu.user + cpu.system, samples };
  };
  const result = { plain: [], drift: [] };
  for (let round = 0; round < 3; round++) {
    const idle = await window(null);
    const plain = await window({});
    const drift = await window({ tuning: { keepAlive: { idle: 60 }, userTimeout: 30000 } });
    result.plain.push((plain.cpuUs - idle.cpuUs) / plain.samples);
    result.drift.push((drift.cpuUs - idle.cpuUs) / drift.samples);
  }
  for (const socket of sockets) socket.destroy();
  server.close();
  return { plain: median(result.plain), drift: median(result.drift) };
}

/** The observe() rows of the figure table. */
function observeLines(costs) {
  // 10,000 connections at the default interval (300 s) are 33.3 samples a second.
  const share = (us) => ((us * (10000 / 300)) / 1e6) * 100;
  return [
    `| observe(): CPU per sample (1000 observed loopback connections, 3 rounds) | ${costs.plain.toFixed(1)} µs; with a tuning (drift) ${costs.drift.toFixed(1)} µs |`,
    `| observe() of 10,000 connections at the default interval (5 min): 33 samples/s | ${share(costs.plain).toFixed(3)}% of a core; with drift ${share(costs.drift).toFixed(3)}% |`,
  ];
}

/** setsockopt calls per http connection, counted with strace, for each tuneServer mode (null without strace). */
async function syscallsPerConnection() {
  if (spawnSync('strace', ['-V']).error) return null;
  const { countSetsockopt } = require('../test/fixtures/syscall-count');
  const out = {};
  for (const mode of ['untuned', 'listener', 'per-connection']) out[mode] = (await countSetsockopt(mode, 200)).perConnection;
  return out;
}

/**
 * Time to require socket-knobs in a fresh process and the RSS it adds, beside the same for an empty
 * module (the floor any package pays: the module loader's first use), alternating, medians.
 */
function loadCost(rounds) {
  const empty = path.join(__dirname, 'out', 'empty-module.js');
  const emptyEsm = path.join(__dirname, 'out', 'empty-module.mjs');
  fs.writeFileSync(empty, 'module.exports = {};\n');
  fs.writeFileSync(emptyEsm, 'export default {};\n');
  // The floor of an ES module twin of a CommonJS package (one module instance for both): it
  // require()s the CommonJS entry through createRequire, as dist/index.mjs does, here an empty one.
  const twinEsm = path.join(__dirname, 'out', 'empty-twin.mjs');
  fs.writeFileSync(twinEsm, "import { createRequire } from 'node:module';\nexport default createRequire(import.meta.url)('./empty-module.js');\n");
  // `use` runs right after require(): the package's chunks are read and its modules initialised on
  // first use of an export, so the rows read none, setKeepAlive (what a program that only sets
  // options destructures) and every export.
  const script = (load, use) => `const m0 = process.memoryUsage().rss; const t0 = process.hrtime.bigint(); const m = ${load}; ${use};
    const t1 = process.hrtime.bigint(); console.log(JSON.stringify({ ms: Number(t1 - t0) / 1e6, rss: process.memoryUsage().rss - m0 }));`;
  const cjs = (target) => `require(${JSON.stringify(target)})`;
  const esm = (target) => `await import(${JSON.stringify(target)})`;
  const kinds = [
    ['package', [], script(cjs(root), '')],
    ['setKeepAlive', [], script(cjs(root), 'm.setKeepAlive')],
    ['everything', [], script(cjs(root), 'for (const name in m) m[name]')],
    ['floor', [], script(cjs(empty), '')],
    ['esm', ['--input-type=module'], script(esm(path.join(root, 'dist', 'index.mjs')), '')],
    ['esmFloor', ['--input-type=module'], script(esm(emptyEsm), '')],
    ['esmTwinFloor', ['--input-type=module'], script(esm(twinEsm), '')],
  ];
  const samples = Object.fromEntries(kinds.map(([kind]) => [kind, { ms: [], rss: [] }]));
  for (let i = 0; i < rounds * 4; i++) {
    for (const [kind, flags, code] of kinds) {
      const out = JSON.parse(execFileSync(process.execPath, [...flags, '-e', code], { encoding: 'utf8' }));
      samples[kind].ms.push(out.ms);
      samples[kind].rss.push(out.rss);
    }
  }
  const ms = (kind) => median(samples[kind].ms);
  const kiB = (kind) => median(samples[kind].rss) / 1024;
  return {
    ms: ms('package'),
    rssKiB: kiB('package'),
    setKeepAliveMs: ms('setKeepAlive'),
    everythingMs: ms('everything'),
    everythingRssKiB: kiB('everything'),
    floorMs: ms('floor'),
    esmMs: ms('esm'),
    esmFloorMs: ms('esmFloor'),
    esmTwinFloorMs: ms('esmTwinFloor'),
    runs: rounds * 4,
  };
}

/** A façade row's ratio to its floor, with its goal, marked when above it. */
function facadeCell(f) {
  if (!f) return '';
  return `${f.ratio.toFixed(3)} (≤ ${f.goal})${f.over ? ' **(above the goal)**' : ''}`;
}

function machine() {
  const cpu = os.cpus()[0];
  return `${cpu ? cpu.model.trim() : os.arch()}, ${os.cpus().length} cores, Linux ${os.release()}, Node ${process.version}`;
}

async function main() {
  const { binary, floor } = buildC();
  const { client: socket, server, accepted } = await loopbackPair();
  const { native } = require('../dist/modules/core/native.js');
  const floorKinds = { setKeepAlive: 0, getKeepAlive: 1, setsockopt: 2, setReuseAddress: 3, tune: 4, getTcpInfo: 5, getReuseAddress: 6, getsockopt: 7 };
  const ours = facadeRows(knobs, native, socket);
  const { rows: theirs, skipped } = alternatives(socket);
  const rows = { ...ours, ...theirs };
  const samples = Object.fromEntries(Object.keys(rows).map((name) => [name, []]));
  const cSamples = Object.fromEntries(Object.keys(floorKinds).map((key) => [key, []]));
  const floorSamples = Object.fromEntries(Object.keys(floorKinds).map((key) => [key, []]));

  progress(`socket-knobs bench: ${ROUNDS} rounds of ${ITERATIONS} calls per row, C loop and JS rows alternating`);
  for (let r = 0; r < ROUNDS; r++) {
    const cRound = JSON.parse(execFileSync(binary, [String(ITERATIONS)], { encoding: 'utf8' }));
    for (const key of Object.keys(cSamples)) cSamples[key].push(cRound[key]);
    if (floor) for (const key of Object.keys(floorSamples)) floorSamples[key].push(floor.loop(socket._handle.fd, floorKinds[key], ITERATIONS));
    // Rotate the order of the JS rows every round, so that no row always runs first after the C
    // process (when caches and TLB are cold) or last.
    const names = Object.keys(rows);
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + r) % names.length];
      samples[name].push(timeLoop(rows[name].fn, ITERATIONS));
    }
    progress(
      `  round ${r + 1}/${ROUNDS}: C setKeepAlive ${cRound.setKeepAlive.toFixed(0)} ns, socket-knobs ${samples['socket-knobs setKeepAlive'].at(-1).toFixed(0)} ns`,
    );
  }
  progress(`the façade against its floors: ${PAIRED_ROUNDS} pairs of ${PAIRED_ITERATIONS} calls per row, back to back`);
  const ratios = pairedRatios(ours, timeLoop, PAIRED_ROUNDS, PAIRED_ITERATIONS);
  progress('allocation: scavenges over 1M calls of each socket-knobs row');
  const scavenges = {};
  for (const [name, row] of Object.entries(ours)) if (row.floor) scavenges[name] = await scavengesOver(row.fn, 1e6);
  socket.destroy();
  accepted.destroy();
  server.close();

  const medians = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
  const facade = facadeResults(ours, ratios, scavenges);
  const cMedian = Object.fromEntries(Object.entries(cSamples).map(([k, v]) => [k, median(v)]));
  const table = [];
  for (const key of Object.keys(cMedian)) {
    const syscalls = { setKeepAlive: 4, getKeepAlive: 4, tune: 6 }[key] || 1;
    table.push({ row: `C loop: ${syscalls === 1 ? '1 syscall' : `the same ${syscalls} syscalls`} (${key})`, ns: cMedian[key], ratio: 1 });
    if (floor) {
      const inProcess = median(floorSamples[key]);
      table.push({ row: 'profile: the same C loop inside this node process', ns: inProcess, ratio: inProcess / cMedian[key] });
    }
    for (const [name, row] of Object.entries(rows)) {
      if (row.compare === key) table.push({ row: name, ns: medians[name], ratio: medians[name] / cMedian[key], facade: facade.find((f) => f.name === name) });
    }
  }

  const tableLines = [
    '| row | ns per call (median) | × the C loop | × its floor (goal) | scavenges per 1M calls |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...table.map((t) => `| ${t.row} | ${t.ns.toFixed(0)} | ${t.ratio.toFixed(2)} | ${facadeCell(t.facade)} | ${t.facade ? t.facade.scavenges : ''} |`),
  ];
  // A row above its goal is said where it is seen: in the table, and as a warning line.
  for (const f of facade) if (f.warning) progress(f.warning);
  // --facade-only: the per-call table alone (a quick check of a change to the façade; writes nothing).
  if (args.includes('--facade-only')) return void console.log(`\n${tableLines.join('\n')}`);

  // The operator's tool first: the server and dial rounds leave tens of thousands of TIME_WAIT
  // sockets for a minute, which `ss -tinp` lists (and the inspector's dump leaves out).
  // In a process of its own: this one's heap, grown by the rounds above, made the inspector's
  // figure that of a busier process (1.34x ss here, 0.91x alone).
  progress("the operator's tool against ss, in a process of its own");
  const operator = JSON.parse(
    execFileSync(process.execPath, [path.join(__dirname, 'inspect-vs-ss.js'), '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  progress('server: connections accepted per second, tuned (setKeepAlive + setUserTimeout) vs untuned');
  const serverRates = await serverRounds(SERVER_ROUNDS);
  progress('dial(): CPU per connection against net.connect() and against adopting a socket by hand');
  const dialRates = await dialRounds(DIAL_ROUNDS);
  progress('setsockopt per connection: strace over 200 http connections per mode');
  const syscalls = await syscallsPerConnection();
  progress('observe(): CPU per sample over 1000 observed loopback connections');
  const observeCosts = await observeCost();
  const fleet = await observeVsSs(progress);
  progress('load cost: require() in a fresh process');
  const load = loadCost(5);

  const ka = table.find((t) => t.row === 'socket-knobs setKeepAlive');
  const nk = table.find((t) => t.row === 'net-keepalive + socket.setKeepAlive');
  const lines = [
    `Measured by \`npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}\` (${ROUNDS} alternating rounds of ${ITERATIONS} calls, medians) on ${machine()}, ${new Date().toISOString().slice(0, 10)}.`,
    '',
    ...tableLines,
    '',
    '| figure | value |',
    '| --- | --- |',
    `| socket-knobs setKeepAlive vs net-keepalive + Node | ${nk ? `${(nk.ns / ka.ns).toFixed(1)}× faster per call; cost above the C loop's syscalls: ${(ka.ns - cMedian.setKeepAlive).toFixed(0)} ns vs ${(nk.ns - cMedian.setKeepAlive).toFixed(0)} ns (${((nk.ns - cMedian.setKeepAlive) / (ka.ns - cMedian.setKeepAlive)).toFixed(0)}× less)` : `not measured: ${skipped['net-keepalive']}`} |`,
    ...serverLines(serverRates, cMedian, syscalls),
    ...dialLines(dialRates),
    ...observeLines(observeCosts),
    ...observeVsSsLines(fleet),
    ...inspectVsSsLines(operator),
    `| \`require('socket-knobs')\` in a fresh process (${load.runs} processes) | ${load.ms.toFixed(1)} ms (an empty module: ${load.floorMs.toFixed(1)} ms), ${load.rssKiB.toFixed(0)} KiB RSS added |`,
    `| the same, then \`setKeepAlive\` read (its chunk read, its modules initialised, the addon loaded) | ${load.setKeepAliveMs.toFixed(1)} ms |`,
    `| the same, then every export read (every chunk, every module) | ${load.everythingMs.toFixed(1)} ms, ${load.everythingRssKiB.toFixed(0)} KiB RSS added |`,
    `| \`import('socket-knobs')\` in a fresh process (it binds the errors, the tables and \`constants\`, so the options' chunk and the addon load) | ${load.esmMs.toFixed(1)} ms (an empty ES module: ${load.esmFloorMs.toFixed(1)} ms; an ES module that require()s an empty CommonJS module, the floor of an ESM twin: ${load.esmTwinFloorMs.toFixed(1)} ms) |`,
    ...Object.entries(skipped).map(([name, why]) => `| ${name} | not measured: ${why} |`),
  ];
  const text = lines.join('\n');
  console.log(`\n${text}`);

  if (!args.includes('--no-write')) {
    const page = path.join(root, 'docs', 'evidence', 'performance.md');
    const doc = fs.readFileSync(page, 'utf8');
    const BEGIN = '<!-- bench:begin (written by npm run bench) -->';
    const END = '<!-- bench:end -->';
    const start = doc.indexOf(BEGIN);
    const end = doc.indexOf(END);
    if (start >= 0 && end > start) {
      fs.writeFileSync(page, `${doc.slice(0, start + BEGIN.length)}\n${text}\n${doc.slice(end)}`);
      progress('docs/evidence/performance.md updated');
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
