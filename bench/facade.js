'use strict';
// The façade against its floors, for `npm run bench` (issue 29's goals). Each socket-knobs call is
// timed beside the bare N-API crossing that makes the same syscalls: the addon's own batch function
// with the operations already in place in a binding of its own, and no façade (no target lookup,
// no validation). The ratio to that floor is the façade's whole cost; each row has a goal, and a
// row above its goal is printed as a warning line naming the goal, so that a regression shows in
// the change that causes it. Allocation is counted as V8's scavenges (minor GCs) over the row's
// calls: 0 means the hot path allocates nothing.
const { PerformanceObserver, constants: perfConstants, performance } = require('node:perf_hooks');
const { decodeInto, preallocated } = require('./tcpinfo-floor');

/** A binding of its own for a floor: `ops` (level, option, value) in place, and bytes for TCP_INFO. */
function bareBatch(native, ops) {
  const L = native.batchLayout;
  const io = new Int32Array(L.HEADER + L.OP_WIDTH * Math.max(1, ops.length));
  ops.forEach(([level, option, value], i) => {
    const at = L.HEADER + L.OP_WIDTH * i;
    io[at + L.LEVEL] = level;
    io[at + L.OPTION] = option;
    io[at + L.VALUE] = value;
  });
  const bytes = new Uint8Array(512);
  // Returned with the slot and held by the rows' closures: a binding whose arrays were collected is refused.
  return { slot: native.bindScratch(io, bytes), io, bytes };
}

/**
 * The floors and the socket-knobs rows, for `socket` (a connected loopback socket). Each row has
 * `compare` (the C loop it makes the syscalls of), and a façade row its `floor` and `goal`
 * (× the floor) and, where the hot path must not allocate, `noAllocation`.
 */
function facadeRows(knobs, native, socket) {
  const c = knobs.constants;
  const KEEPALIVE = [
    [c.SOL_SOCKET, c.SO_KEEPALIVE, 1],
    [c.IPPROTO_TCP, c.TCP_KEEPIDLE, 60],
    [c.IPPROTO_TCP, c.TCP_KEEPINTVL, 10],
    [c.IPPROTO_TCP, c.TCP_KEEPCNT, 3],
  ];
  const keepAlive = bareBatch(native, KEEPALIVE);
  const six = bareBatch(native, [...KEEPALIVE, [c.IPPROTO_TCP, c.TCP_USER_TIMEOUT, 45000], [c.IPPROTO_TCP, c.TCP_NODELAY, 1]]);
  const reuse = bareBatch(native, [[c.SOL_SOCKET, c.SO_REUSEADDR, 1]]);
  const keepCount = bareBatch(native, [[c.IPPROTO_TCP, c.TCP_KEEPCNT, 3]]);
  const info = bareBatch(native, []);
  const infoView = new DataView(info.bytes.buffer);
  const infoFloorResult = preallocated();
  const fd = () => socket._handle.fd;
  const TUNING = { keepAlive: { idle: 60, interval: 10, count: 3 }, userTimeout: 45000, noDelay: true };
  const tuner = knobs.createTuner(TUNING);
  const reused = knobs.getTcpInfo(socket);

  const floor = {
    'floor: bare crossing, 4 setsockopt': { compare: 'setKeepAlive', fn: () => native.setInts(keepAlive.slot, fd(), 4) },
    'floor: bare crossing, 4 getsockopt': { compare: 'getKeepAlive', fn: () => native.getInts(keepAlive.slot, fd(), 4) },
    'floor: bare crossing, 1 setsockopt (SO_REUSEADDR)': { compare: 'setReuseAddress', fn: () => native.setInts(reuse.slot, fd(), 1) },
    'floor: bare crossing, 1 getsockopt (SO_REUSEADDR)': { compare: 'getReuseAddress', fn: () => native.getInts(reuse.slot, fd(), 1) },
    'floor: bare crossing, 1 setsockopt (TCP_KEEPCNT)': { compare: 'setsockopt', fn: () => native.setInts(keepCount.slot, fd(), 1) },
    'floor: bare crossing, 1 getsockopt (TCP_KEEPCNT)': { compare: 'getsockopt', fn: () => native.getInts(keepCount.slot, fd(), 1) },
    'floor: bare crossing, 6 setsockopt': { compare: 'tune', fn: () => native.setInts(six.slot, fd(), 6) },
    'floor: bare TCP_INFO crossing + hand-written DataView decode into a preallocated object': {
      compare: 'getTcpInfo',
      fn: () => {
        native.getScratchBytes(info.slot, fd(), c.IPPROTO_TCP, c.TCP_INFO);
        return decodeInto(info.bytes, infoView, infoFloorResult);
      },
    },
  };
  const F = Object.keys(floor);
  const ours = {
    'socket-knobs setKeepAlive': {
      compare: 'setKeepAlive',
      floor: F[0],
      goal: 1.1,
      fn: () => knobs.setKeepAlive(socket, { enable: true, idle: 60, interval: 10, count: 3 }),
    },
    'socket-knobs getKeepAlive': { compare: 'getKeepAlive', floor: F[1], goal: 1.1, fn: () => knobs.getKeepAlive(socket) },
    'socket-knobs setReuseAddress': { compare: 'setReuseAddress', floor: F[2], goal: 1.1, noAllocation: true, fn: () => knobs.setReuseAddress(socket, true) },
    'socket-knobs getReuseAddress': { compare: 'getReuseAddress', floor: F[3], goal: 1.1, noAllocation: true, fn: () => knobs.getReuseAddress(socket) },
    "socket-knobs setsockopt('IPPROTO_TCP', 'TCP_KEEPCNT', 3)": {
      compare: 'setsockopt',
      floor: F[4],
      goal: 1.15,
      fn: () => knobs.setsockopt(socket, 'IPPROTO_TCP', 'TCP_KEEPCNT', 3),
    },
    "socket-knobs getsockopt('IPPROTO_TCP', 'TCP_KEEPCNT')": {
      compare: 'getsockopt',
      floor: F[5],
      goal: 1.15,
      fn: () => knobs.getsockopt(socket, 'IPPROTO_TCP', 'TCP_KEEPCNT'),
    },
    'socket-knobs createTuner(tuning).apply(socket)': { compare: 'tune', floor: F[6], goal: 1.1, noAllocation: true, fn: () => tuner.apply(socket) },
    'socket-knobs tune(socket, tuning)': {
      compare: 'tune',
      floor: 'socket-knobs createTuner(tuning).apply(socket)',
      goal: 1.15,
      noAllocation: true,
      fn: () => knobs.tune(socket, TUNING),
    },
    'socket-knobs getTcpInfo(socket)': { compare: 'getTcpInfo', floor: F[7], goal: 1.2, fn: () => knobs.getTcpInfo(socket) },
    'socket-knobs getTcpInfo(socket, reused)': {
      compare: 'getTcpInfo',
      floor: F[7],
      goal: 1.1,
      noAllocation: true,
      fn: () => knobs.getTcpInfo(socket, reused),
    },
  };
  return { ...floor, ...ours };
}

/** Minor GCs (scavenges) while `fn` runs `n` times: 0 when it allocates nothing (V8's young generation never fills). */
async function scavengesOver(fn, n) {
  const seen = [];
  const observer = new PerformanceObserver((list) => seen.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  for (let i = 0; i < 1000; i++) fn(i);
  await new Promise((resolve) => setImmediate(resolve));
  const start = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const end = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 20)); // the entries arrive after the loop
  observer.disconnect();
  return seen.filter((e) => (e.detail ? e.detail.kind : e.kind) === perfConstants.NODE_PERFORMANCE_GC_MINOR && e.startTime >= start && e.startTime <= end)
    .length;
}

/**
 * Each façade row's ratio to its floor, paired: the two are timed back to back, `rounds` times in
 * alternating order, and the ratio is the median of the pairs' own ratios. The machine's load
 * drifts within a round of every row (a VM's neighbours: ±30% between runs here), and a row and
 * its floor timed at different moments of it differed by more than the goals' margins.
 */
function pairedRatios(rows, timeLoop, rounds, iterations) {
  const ratios = {};
  for (const [name, row] of Object.entries(rows)) {
    if (!row.floor) continue;
    const floor = rows[row.floor].fn;
    const pairs = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        const f = timeLoop(floor, iterations);
        pairs.push(timeLoop(row.fn, iterations) / f);
      } else {
        const ours = timeLoop(row.fn, iterations);
        pairs.push(ours / timeLoop(floor, iterations));
      }
    }
    pairs.sort((a, b) => a - b);
    ratios[name] = pairs[pairs.length >> 1];
  }
  return ratios;
}

/** Each façade row's ratio to its floor (pairedRatios), its scavenges, and a warning where it is above its goal. */
function facadeResults(rows, ratios, scavenges) {
  const results = [];
  for (const [name, row] of Object.entries(rows)) {
    if (!row.floor) continue;
    const ratio = ratios[name];
    const allocates = row.noAllocation && scavenges[name] > 0;
    const over = ratio > row.goal || allocates;
    results.push({
      name,
      ratio,
      goal: row.goal,
      scavenges: scavenges[name],
      over,
      warning: over
        ? `warning: ${name} is ${ratio.toFixed(3)}× its floor (${row.floor}), goal ≤ ${row.goal}×${row.noAllocation ? ' with no allocation' : ''}${allocates ? `; ${scavenges[name]} scavenges per 1M calls` : ''} (issue 29; bench/facade.js)`
        : null,
    });
  }
  return results;
}

module.exports = { facadeRows, facadeResults, pairedRatios, scavengesOver };
