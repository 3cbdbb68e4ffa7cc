#!/usr/bin/env node
'use strict';
// A model-based lifecycle fuzzer for the attachment layer (issue 24 §4): seeded random sequences of
// real operations on real servers and sockets (net, http and Unix servers; listen, close, re-listen;
// tuneServer, tuneServers, observe on servers, sockets and agents from two copies of the package,
// stop; tuneOnConnect; http agents plain, tuned (tuneAgent) and dialing (dialAgent) and requests
// through them; connect, destroy, resetAndDestroy, end; a socket handed to a child process; an APM
// library's _destroy wrapper; event-loop turns of every kind; GC), checked against an oracle that
// reads the kernel:
//   tuned:*    every socket accepted (or connected) after its tuning's `ready` (or 'connect') reads
//              that tuning back, the fields it does not name at the kernel's defaults (a replaced
//              tuning is replaced whole), or an error was delivered (sub-kinds: untuned, precedence,
//              merged, client);
//   final      exactly one final sample per connection for each observer that was watching it when it
//              closed, none after stop();
//   wrapper    an APM library's _destroy wrapper runs exactly once when its socket closes;
//   settles:*  every tuner's `ready` settles by the end (resolved or rejected), whether it was
//              replaced, its server listened, or it closed without listening;
//   unhandled  no uncaught exception or unhandled rejection;
//   retained   after every server and socket is closed and the user let go of them, GC collects
//              them all while tuneServers() and the socket observers still run;
//   fds        the fd count is back to its baseline.
// Operations are generated from the model's state; the runner turns each into real calls.
//
//   node --expose-gc test/fuzz/lifecycle.js [--seed N] [--sequences N] [--ops N] [--package DIR] [--json]
//   node --expose-gc test/fuzz/lifecycle.js --replay 'server(0) listen(3,0) connect(4,0)'
//
// --package runs against another copy of the package (the code before a fix, to show what the fuzzer
// finds by itself). A failing sequence is shrunk (operations removed while the same violation stays)
// and printed with its seed. Exit status: 0 when no sequence failed, 1 otherwise.
const fs = require('node:fs');
const http = require('node:http');
const Module = require('node:module');
const { fork } = require('node:child_process');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const SEED = Number(arg('--seed', 1));
const SEQUENCES = Number(arg('--sequences', 20));
const OPS = Number(arg('--ops', 30));
const JSON_OUT = args.includes('--json');
const root = path.resolve(arg('--package', path.join(__dirname, '..', '..')));
const entry = path.join(root, 'dist', 'index.js');

if (typeof global.gc !== 'function') {
  console.error('run with --expose-gc');
  process.exit(2);
}

/**
 * A fresh module instance of the package: another copy, with its own registry symbol. Its entry
 * loads its chunks on first use through require()'s cache, so the copy is loaded with the package's
 * files out of the cache and every export read (every chunk loaded) before they go back.
 */
function loadCopy() {
  const dist = path.join(root, 'dist') + path.sep;
  const first = Object.keys(require.cache).filter((key) => key.startsWith(dist));
  const saved = first.map((key) => [key, require.cache[key]]);
  for (const key of first) delete require.cache[key];
  const m = new Module(entry, module);
  m.filename = entry;
  m.paths = Module._nodeModulePaths(path.dirname(entry));
  m.load(entry);
  for (const name in m.exports) m.exports[name];
  for (const [key, cached] of saved) require.cache[key] = cached;
  return m.exports;
}
const first = require(entry);
for (const name in first) first[name];
const COPIES = [first, loadCopy()];
if (COPIES[1].SocketOptionError === first.SocketOptionError) throw new Error('loadCopy() returned the same instance, not a second copy');
const knobs = COPIES[0];
// deadPeerTimeout's expansion, from this source tree's build (the formula: lib/tuning/deadpeer.ts).
const { expandDeadPeer, validateDeadPeer } = require('../../dist/modules/tuning/deadpeer.js');

const rng = require('../helpers/random').mulberry32;

const TUNINGS = [
  { keepAlive: { idle: 61, interval: 11, count: 4 }, userTimeout: 45000 },
  { keepAlive: { idle: 99 } },
  { userTimeout: 7000 },
  { keepAlive: { idle: 33, count: 3 } },
  { deadPeerTimeout: '12s' }, // expands into keepalive 7/1/3 and userTimeout 10000: the same invariants
];
const KINDS = ['net', 'http', 'unix'];
const HOW = ['destroy', 'reset', 'end'];

// ---------------------------------------------------------------------------------------------
// Generation: operations chosen from what the model has (indices are resolved modulo at run time,
// so a shrunk sequence stays runnable).

const WEIGHTS = [
  ['server', 3],
  ['listen', 5],
  ['close', 2],
  ['tuneServer', 4],
  ['stopTuner', 1],
  ['tuneServers', 2],
  ['stopServers', 1],
  ['observeServer', 2],
  ['observeSocket', 3],
  ['stopObserver', 2],
  ['connect', 6],
  ['clientTune', 2],
  ['destroy', 4],
  ['apm', 2],
  ['tick', 4],
  ['yield', 4],
  ['sleep', 2],
  ['gc', 1],
  ['agent', 2],
  ['request', 4],
  ['observeAgent', 2],
  ['handoff', 1],
];
const TOTAL = WEIGHTS.reduce((n, [, w]) => n + w, 0);

/**
 * A sequence drawn from a small model of what exists: how many servers, which listen (as far as the
 * operations so far say), whether tuneServers() runs. Operations aim at what makes them meaningful
 * (listen a server that does not listen, tune one before or after it listens, start tuneServers()
 * only when none runs); the runner still resolves every index against the real state.
 */
function generate(random, count) {
  const ops = [{ op: 'server', a: 0, b: 0 }];
  const model = { servers: 1, listening: [false], wide: false };
  const pick = (list) => list[Math.floor(random() * list.length)];
  const indices = (want) => model.listening.map((l, i) => (l === want ? i : -1)).filter((i) => i >= 0);
  for (let i = 1; i < count; i++) {
    let r = random() * TOTAL;
    let op = 'tick';
    for (const [name, w] of WEIGHTS) {
      if ((r -= w) < 0) {
        op = name;
        break;
      }
    }
    let a = Math.floor(random() * 8);
    const b = Math.floor(random() * 8);
    if (op === 'server') {
      model.servers++;
      model.listening.push(false);
    } else if (op === 'listen') {
      const idle = indices(false);
      if (idle.length > 0) a = pick(idle);
      model.listening[a % model.servers] = true;
    } else if (op === 'close') {
      const busy = indices(true);
      if (busy.length > 0) a = pick(busy);
      model.listening[a % model.servers] = false;
    } else if (op === 'tuneServer') {
      const side = indices(random() < 0.5);
      if (side.length > 0) a = pick(side);
    } else if (op === 'tuneServers') {
      if (model.wide) op = 'tick';
      model.wide = true;
    } else if (op === 'stopServers') {
      if (!model.wide) op = 'tick';
      model.wide = false;
    }
    ops.push({ op, a, b });
  }
  return ops;
}

// ---------------------------------------------------------------------------------------------
// The oracle's expectations.

let DEFAULTS;
/** What the kernel holds on a socket for the fields the tunings name. */
function read(socket) {
  const t = knobs.getTuning(socket);
  return { enable: t.keepAlive.enable, idle: t.keepAlive.idle, interval: t.keepAlive.interval, count: t.keepAlive.count, userTimeout: t.userTimeout };
}
/**
 * The tuning as the fields the kernel holds: deadPeerTimeout expanded into keepAlive and userTimeout
 * (the expansion's own bounds are proved in test/integration/deadpeer.test.js and against the kernel
 * in test/system/dead-peer.test.js; this oracle checks that they hold through every lifecycle).
 */
function effective(tuning) {
  if (!tuning || tuning.deadPeerTimeout === undefined) return tuning;
  const { deadPeerTimeout, ...rest } = tuning;
  const e = expandDeadPeer(validateDeadPeer(deadPeerTimeout, 'deadPeerTimeout'));
  return { ...rest, keepAlive: { enable: true, idle: e.idle, interval: e.interval, count: e.count }, userTimeout: e.userTimeout };
}

/** A socket tuned with `tuning` and nothing else: the tuning's fields, the kernel's defaults elsewhere. */
function expected(tuning) {
  tuning = effective(tuning);
  const e = { ...DEFAULTS };
  if (tuning.keepAlive) {
    e.enable = tuning.keepAlive.enable ?? true;
    for (const k of ['idle', 'interval', 'count']) if (tuning.keepAlive[k] !== undefined) e[k] = tuning.keepAlive[k];
  }
  if (tuning.userTimeout !== undefined) e.userTimeout = tuning.userTimeout;
  return e;
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
/** `b` over `a`, keepalive fields one by one (what a listener holds after both were set on it). */
function over(a, b) {
  a = effective(a);
  b = effective(b);
  const out = { ...a, ...b };
  if (a.keepAlive || b.keepAlive) out.keepAlive = { ...(a.keepAlive || {}), ...(b.keepAlive || {}) };
  return out;
}

// ---------------------------------------------------------------------------------------------
// One sequence against real objects.

async function runSequence(ops) {
  const violations = [];
  const violate = (kind, message) => violations.push({ kind, message });
  const onUncaught = (err) => violate('unhandled', `uncaught: ${err && err.stack ? err.stack.split('\n').slice(0, 3).join(' | ') : err}`);
  const onRejection = (err) => violate('unhandled', `unhandled rejection: ${err && err.message}`);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onRejection);
  const fdsBefore = fs.readdirSync('/proc/self/fd').length;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-lifecycle-'));
  let clock = 0;
  const servers = []; // { kind, server, owner, sockPath }
  const sockets = []; // open sockets (accepted and clients)
  const observers = []; // { observer, finals: Map, stoppedAt, watching: Set }
  const tuners = []; // { settled: () => boolean, label }
  const apm = []; // { socket, calls }
  const collect = { registry: null, alive: 0, names: new Map() };
  collect.registry = new FinalizationRegistry((id) => {
    collect.alive--;
    collect.names.delete(id);
  });
  let nextId = 0;
  const watch = (object, label) => {
    const id = nextId++;
    collect.alive++;
    collect.names.set(id, label);
    collect.registry.register(object, id);
  };
  let wide = null; // { tuning, stop }
  const agents = []; // { agent, variant, tuning }
  let holder = null; // a child process that takes handed-off sockets
  const live = () => servers.filter((s) => s.server);

  function trackSocket(socket, label) {
    sockets.push(socket);
    watch(socket, label);
    socket.on('error', () => {});
    // When it connected (an accepted socket: now).
    if (socket.connecting) socket.once('connect', () => (socket.connectedAt = ++clock));
    else socket.connectedAt = ++clock;
    // When it closed, as its observers see it: the first _destroy call (the oracle's own wrapper,
    // made before any of socket-knobs', so it composes as any library's).
    const inner = socket._destroy;
    socket._destroy = function oracleDestroy(err, cb) {
      if (socket.destroyedAt === undefined) socket.destroyedAt = ++clock;
      return inner.call(this, err, cb);
    };
    socket.once('close', () => {
      socket.closedAt = ++clock;
      const i = sockets.indexOf(socket);
      if (i >= 0) sockets.splice(i, 1);
    });
  }

  function newServer(kind) {
    const entry = { kind, owner: null, server: null, residue: {}, sockPath: path.join(dir, `s${servers.length}.sock`) };
    const server = kind === 'http' ? http.createServer((req, res) => res.end('ok')) : net.createServer();
    server.on('error', () => {});
    // The application's own handler, after socket-knobs' prepended ones: what it sees is the oracle's.
    server.on('connection', (socket) => {
      trackSocket(socket, `${kind} accepted socket`);
      if (kind !== 'unix') for (const o of observers) if (o.target === entry && o.stoppedAt === undefined) o.watching.add(socket);
      const owner = entry.owner;
      if (owner && owner.active && (owner.resolved || owner.listened) && kind !== 'unix') {
        const now = read(socket);
        // What a stopped tuning left on the listener stays there (stop() sets nothing back).
        const want = expected(over(entry.residue, owner.tuning));
        if (!same(now, want)) {
          // Which break it is: the socket untuned (cloned before the listener was tuned, §2.3),
          // tuneServers' tuning where an explicit one holds (precedence, §2.4), or a mix of two
          // tunings (a replacement merged field by field, §2.4).
          const sub = same(now, expected(entry.residue))
            ? 'tuned:untuned'
            : owner.label === 'tuneServer' && wide && same(now, expected(over(entry.residue, wide.tuning)))
              ? 'tuned:precedence'
              : 'tuned:merged';
          violate(sub, `${kind} socket accepted after ready: kernel ${JSON.stringify(now)}, tuning ${JSON.stringify(want)} (${owner.label})`);
        }
      }
    });
    server.on('close', () => {
      // tuneServers lets go of a closed server (not of one that listens again meanwhile).
      if (!server.listening && entry.owner && entry.owner.label === 'tuneServers') entry.owner = null;
    });
    entry.server = server;
    watch(server, `${kind} server`);
    servers.push(entry);
    return entry;
  }

  function explicitTuner(entry, tuning) {
    let tuner;
    try {
      tuner = knobs.tuneServer(entry.server, tuning);
    } catch (err) {
      if (!(err instanceof knobs.SocketOptionError)) violate('unhandled', `tuneServer threw ${err}`);
      return; // refused (an AF_UNIX server with TCP fields): an error was delivered
    }
    const owner = { tuning, active: true, resolved: false, listened: entry.server.listening, label: 'tuneServer', tuner: new WeakRef(tuner) };
    let settled = false;
    tuner.ready.then(
      () => {
        settled = true;
        owner.resolved = true;
      },
      () => {
        settled = true;
        owner.active = false;
      },
    );
    tuner.on('error', () => {});
    const record = { settled: () => settled, label: `tuneServer(${entry.kind})`, owner, listened: entry.server.listening, replaced: false };
    tuners.push(record);
    owner.record = record;
    if (entry.owner) {
      entry.owner.active = false;
      if (entry.owner.record) entry.owner.record.replaced = true;
    }
    entry.owner = owner;
  }

  const exec = {
    server: (o) => void newServer(KINDS[o.a % KINDS.length]),
    listen: (o) => {
      const entry = live()[o.a % Math.max(1, live().length)];
      if (!entry || entry.server.listening) return;
      entry.residue = {};
      // The explicit tuning in force applies at this listen: from here its sockets are checked even
      // before its ready resolves (a ready that never resolves must not hide a lost precedence).
      if (entry.owner && entry.owner.active && entry.owner.record) {
        entry.owner.record.listened = true;
        entry.owner.listened = true;
      }
      if (entry.kind === 'unix') {
        fs.rmSync(entry.sockPath, { force: true });
        entry.server.listen(entry.sockPath);
      } else if (o.b % 2 === 0) entry.server.listen(0);
      else entry.server.listen(0, '127.0.0.1');
      if (wide && !(entry.owner && entry.owner.label === 'tuneServer' && entry.owner.active) && entry.kind !== 'unix') {
        entry.owner = { tuning: wide.tuning, active: true, resolved: false, label: 'tuneServers' };
        const owner = entry.owner;
        // tuneServers' ready is internal; it resolves inside listen(2)'s channel, before any accept.
        Promise.resolve().then(() => (owner.resolved = true));
      }
    },
    close: (o) => {
      const entry = live()[o.a % Math.max(1, live().length)];
      if (entry && entry.server.listening) entry.server.close();
    },
    tuneServer: (o) => {
      const entry = live()[o.a % Math.max(1, live().length)];
      if (entry) explicitTuner(entry, TUNINGS[o.b % TUNINGS.length]);
    },
    stopTuner: (o) => {
      const entry = live()[o.a % Math.max(1, live().length)];
      if (!entry || !entry.owner || entry.owner.label !== 'tuneServer') return;
      entry.owner.tuner.deref()?.stop();
      if (entry.owner.active && entry.server.listening) entry.residue = over(entry.residue, entry.owner.tuning);
      entry.owner.active = false;
    },
    tuneServers: (o) => {
      if (wide) return;
      const tuning = TUNINGS[o.a % TUNINGS.length];
      const all = knobs.tuneServers(tuning);
      all.on('error', () => {});
      all.on('tuned', () => {}); // its per-server report (fields left out on a Unix server) is heard
      wide = { tuning, stop: () => all.stop() };
    },
    stopServers: () => {
      if (!wide) return;
      wide.stop();
      wide = null;
      for (const entry of servers) {
        if (!entry.owner || entry.owner.label !== 'tuneServers') continue;
        if (entry.owner.active && entry.server && entry.server.listening) entry.residue = over(entry.residue, entry.owner.tuning);
        entry.owner.active = false;
      }
    },
    observeServer: (o) => {
      const entry = live()[o.a % Math.max(1, live().length)];
      if (!entry) return;
      const record = { target: entry, finals: new Map(), stoppedAt: undefined, watching: new Set() };
      record.observer = COPIES[o.b % 2].observe(entry.server, {
        interval: 25,
        onSample: (s) => s.final && record.finals.set(s.socket, (record.finals.get(s.socket) ?? 0) + 1),
      });
      record.observer.on('error', () => {});
      observers.push(record);
    },
    observeSocket: (o) => {
      const socket = sockets[o.a % Math.max(1, sockets.length)];
      if (!socket || socket.destroyed) return;
      const record = { target: null, finals: new Map(), stoppedAt: undefined, watching: new Set([socket]) };
      try {
        record.observer = COPIES[o.b % 2].observe(socket, {
          interval: 25,
          onSample: (s) => s.final && record.finals.set(s.socket, (record.finals.get(s.socket) ?? 0) + 1),
        });
      } catch (err) {
        if (!(err instanceof COPIES[o.b % 2].SocketOptionError)) violate('unhandled', `observe threw ${err}`);
        return;
      }
      record.observer.on('error', () => {});
      observers.push(record);
    },
    stopObserver: (o) => {
      const record = observers.filter((r) => r.stoppedAt === undefined)[o.a % Math.max(1, observers.length)];
      if (!record) return;
      record.observer.stop();
      record.stoppedAt = ++clock;
    },
    connect: (o) => {
      const entry = live().filter((e) => e.server.listening)[o.a % Math.max(1, live().length)];
      if (!entry) return;
      for (let i = 0; i <= o.b % 3; i++) {
        const c = entry.kind === 'unix' ? net.connect(entry.sockPath) : net.connect(entry.server.address().port, '127.0.0.1');
        trackSocket(c, 'client socket');
      }
    },
    clientTune: (o) => {
      const entry = live().filter((e) => e.server.listening && e.kind !== 'unix')[o.a % Math.max(1, live().length)];
      if (!entry) return;
      const tuning = TUNINGS[o.b % TUNINGS.length];
      const c = net.connect(entry.server.address().port, '127.0.0.1');
      trackSocket(c, 'tuned client socket');
      knobs.tuneOnConnect(c, tuning);
      c.once('connect', () => {
        const now = read(c);
        if (!same(now, expected(tuning)))
          violate('tuned:client', `client after 'connect': kernel ${JSON.stringify(now)}, tuning ${JSON.stringify(expected(tuning))}`);
      });
    },
    destroy: (o) => {
      const socket = sockets[o.a % Math.max(1, sockets.length)];
      if (!socket) return;
      const how = HOW[o.b % HOW.length];
      // A reset is TCP's (Node refuses it on a Unix socket); after end() Node 20's resetAndDestroy()
      // leaves the fd open (measured: one more fd, the socket destroyed), so not then.
      if (how === 'reset' && socket._handle && !socket.connecting && socket.remoteFamily && !socket.writableEnded) socket.resetAndDestroy();
      else if (how === 'end') socket.end();
      else socket.destroy();
    },
    apm: (o) => {
      const socket = sockets[o.a % Math.max(1, sockets.length)];
      if (!socket || socket.destroyed) return;
      const record = { socket: new WeakRef(socket), calls: 0 };
      const inner = socket._destroy;
      socket._destroy = function apmDestroy(err, cb) {
        record.calls++;
        return inner.call(this, err, cb);
      };
      apm.push(record);
    },
    agent: (o) => {
      const variant = ['plain', 'tuned', 'dialed'][o.a % 3];
      const tuning = TUNINGS[o.b % TUNINGS.length];
      const agent = new http.Agent({ keepAlive: o.a % 2 === 0, maxSockets: 2 });
      if (variant === 'tuned') knobs.tuneAgent(agent, tuning);
      if (variant === 'dialed') knobs.dialAgent(agent, { tuning });
      agents.push({ agent, variant, tuning: variant === 'plain' ? null : tuning });
    },
    request: (o) => {
      const entry = agents[o.a % Math.max(1, agents.length)];
      const target = live().filter((e) => e.kind === 'http' && e.server.listening)[o.b % Math.max(1, live().length)];
      if (!entry || !target) return;
      const req = http.get({ host: '127.0.0.1', port: target.server.address().port, agent: entry.agent }, (res) => {
        res.resume();
        res.on('end', () => {
          // Every field the agent's tuning names, read back on the socket that carried the request.
          if (!entry.tuning || !req.socket || req.socket.destroyed) return;
          const now = read(req.socket);
          const want = expected(entry.tuning);
          // Only the fields the tuning names: Node sets the others on an agent's sockets itself
          // (keepAlive: true agents call setKeepAlive(true), which sets interval 1 and count 10).
          const given = effective(entry.tuning);
          const ka = given.keepAlive;
          const named = Object.keys(want).filter((k) =>
            k === 'userTimeout' ? given.userTimeout !== undefined : ka && (k === 'enable' || ka[k] !== undefined),
          );
          const differs = named.filter((k) => now[k] !== want[k]);
          if (differs.length > 0)
            violate('tuned:agent', `${entry.variant} agent's socket: ${differs.map((k) => `${k} ${now[k]} (want ${want[k]})`).join(', ')}`);
        });
      });
      req.on('error', () => {});
      req.on('socket', (socket) => {
        if (sockets.includes(socket) || socket.trackedAt) return;
        socket.trackedAt = ++clock;
        trackSocket(socket, `${entry.variant} agent socket`);
        for (const r of observers) if (r.agent === entry.agent && r.stoppedAt === undefined) r.watching.add(socket);
      });
    },
    observeAgent: (o) => {
      const entry = agents[o.a % Math.max(1, agents.length)];
      if (!entry) return;
      const record = { target: null, agent: entry.agent, finals: new Map(), stoppedAt: undefined, watching: new Set() };
      for (const list of [...Object.values(entry.agent.sockets), ...Object.values(entry.agent.freeSockets)])
        for (const socket of list) record.watching.add(socket);
      record.observer = COPIES[o.b % 2].observe(entry.agent, {
        interval: 25,
        onSample: (x) => x.final && record.finals.set(x.socket, (record.finals.get(x.socket) ?? 0) + 1),
      });
      record.observer.on('error', () => {});
      observers.push(record);
    },
    handoff: async (o) => {
      const socket = sockets.filter((x) => x.server && !x.destroyed && x.remoteFamily)[o.a % Math.max(1, sockets.length)];
      if (!socket) return;
      holder ??= fork(path.join(__dirname, '..', 'fixtures', 'hold-socket.js'), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      const i = sockets.indexOf(socket);
      if (i >= 0) sockets.splice(i, 1);
      socket.handedOff = true;
      await new Promise((resolve) => holder.send('socket', socket, () => resolve()));
    },
    tick: () => new Promise((r) => process.nextTick(r)),
    yield: () => new Promise((r) => setImmediate(r)),
    sleep: (o) => new Promise((r) => setTimeout(r, 5 + (o.a % 4) * 10)),
    gc: () => globalThis.gc(),
  };

  try {
    for (const o of ops) {
      if (process.env.LIFECYCLE_TRACE === 'ops') console.error(`op ${show(o)}`);
      const result = exec[o.op](o);
      if (result && typeof result.then === 'function') await result;
    }
    await new Promise((r) => setTimeout(r, 40));
    // The end: every server closes, every socket goes, the user lets go of servers and tuners.
    for (const record of observers) {
      if ((record.target || record.agent) && record.stoppedAt === undefined) {
        // observe(server) holds its server while it runs, as the user's own reference would: let go.
        record.observer.stop();
        record.stoppedAt = ++clock;
      }
    }
    // In functions of their own: a suspended async frame keeps its last loop values alive, which
    // would read as retention.
    for (const entry of agents) entry.agent.destroy();
    agents.length = 0;
    // A server that handed a socket to the child waits for it in close(): the child lets go first.
    const child = holder;
    holder = null;
    if (child) await new Promise((resolve) => child.once('message', resolve).send('release'));
    await closeEverything(sockets, live);
    if (child) await new Promise((resolve) => child.once('exit', resolve).kill());
    await new Promise((r) => setTimeout(r, 60));
    // Checked in a function of its own: its loop values must not stay in this async frame.
    (() => {
      for (const t of tuners) {
        if (t.settled()) continue;
        const why = t.replaced ? 'replaced' : t.listened ? 'listened' : 'never-listened';
        violate(
          `settles:${why}`,
          `${t.label}: ready never settled (${why === 'replaced' ? 'replaced by a later tuneServer()' : why === 'listened' ? 'its server listened' : 'its server closed without listening'})`,
        );
      }
      for (const record of observers) {
        for (const socket of record.watching) {
          const finals = record.finals.get(socket) ?? 0;
          const closedFirst =
            socket.connectedAt !== undefined && socket.destroyedAt !== undefined && (record.stoppedAt === undefined || socket.destroyedAt < record.stoppedAt);
          const want = closedFirst ? 1 : 0;
          if (socket.destroyedAt !== undefined && finals !== want) violate('final', `${finals} final samples for a connection (expected ${want})`);
        }
      }
      for (const record of apm)
        if (record.calls !== 1 && record.socket.deref()?.destroyed !== false) violate('wrapper', `an APM _destroy wrapper ran ${record.calls} times`);
    })();
    (() => {
      // Let go of everything but the running tuneServers() and socket observers, then collect.
      for (const entry of servers) entry.server = null;
      sockets.length = 0;
      tuners.length = 0;
      for (const record of observers) {
        record.watching.clear();
        record.finals.clear();
        record.target = null;
        record.agent = null;
        // A stopped observer is one the user let go of too.
        if (record.stoppedAt !== undefined) record.observer = null;
      }
    })();
    for (let i = 0; i < 6; i++) {
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 5));
    }
    if (collect.alive > 0 && process.env.LIFECYCLE_HEAP) require('node:v8').writeHeapSnapshot(process.env.LIFECYCLE_HEAP);
    if (collect.alive > 0) violate('retained', `${collect.alive} closed objects still alive after GC: ${[...new Set(collect.names.values())].join(', ')}`);
    for (const record of observers) if (record.observer) record.observer.stop();
    if (wide) wide.stop();
    let fds = fs.readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 20 && fds > fdsBefore; i++) {
      await new Promise((r) => setTimeout(r, 10));
      fds = fs.readdirSync('/proc/self/fd').length;
    }
    if (fds > fdsBefore) violate('fds', `${fds - fdsBefore} more fds open than at the start`);
  } catch (err) {
    violate('unhandled', `the sequence threw: ${err && err.stack ? err.stack.split('\n').slice(0, 3).join(' | ') : err}`);
  } finally {
    if (holder) holder.kill();
    if (wide) wide.stop();
    process.removeListener('uncaughtException', onUncaught);
    process.removeListener('unhandledRejection', onRejection);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return violations;
}

/** Destroys every socket and closes every server, listening or not (close() on one that never listened still emits 'close'). */
function closeEverything(sockets, live) {
  for (const socket of [...sockets]) socket.destroy();
  return Promise.all(live().map((e) => new Promise((r) => e.server.close(() => r())))).then(() => undefined);
}

/** Removes operations while the same kind of violation stays (ddmin-style), within a budget of runs. */
async function shrink(ops, kind) {
  let current = ops;
  let budget = 120;
  for (let size = Math.ceil(current.length / 2); size >= 1 && budget > 0; size = size === 1 ? 0 : Math.ceil(size / 2)) {
    for (let start = 1; start < current.length && budget > 0;) {
      const candidate = [...current.slice(0, start), ...current.slice(start + size)];
      budget--;
      const v = await runSequence(candidate);
      if (v.some((x) => x.kind === kind)) current = candidate;
      else start += size;
    }
  }
  return current;
}

const show = (o) => `${o.op}(${o.a ?? ''}${o.b !== undefined ? `,${o.b}` : ''})`;

async function main() {
  // The kernel's defaults, from an untuned accepted socket.
  const probe = net.createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const accepted = new Promise((r) => probe.once('connection', r));
  const c = net.connect(probe.address().port, '127.0.0.1');
  const s = await accepted;
  DEFAULTS = read(s);
  s.destroy();
  c.destroy();
  probe.close();
  await new Promise((r) => setTimeout(r, 20));

  const replay = arg('--replay', null);
  if (replay) {
    const ops = replay
      .trim()
      .split(/\s+/)
      .map((text) => {
        const [, op, a, b] = /^(\w+)\((\d*),?(\d*)\)$/.exec(text);
        return { op, a: Number(a || 0), b: Number(b || 0) };
      });
    const violations = await runSequence(ops);
    console.log(JSON.stringify(violations, null, 1));
    process.exit(violations.length === 0 ? 0 : 1);
  }
  const random = rng(SEED);
  const found = [];
  const started = Date.now();
  for (let i = 0; i < SEQUENCES; i++) {
    const ops = generate(random, OPS);
    if (process.env.LIFECYCLE_TRACE) console.error(`sequence ${i}: ${ops.map(show).join(' ')}`);
    const violations = await runSequence(ops);
    // Each kind of violation in the sequence, shrunk on its own (one may hide another).
    for (const kind of new Set(violations.map((v) => v.kind))) {
      const first = violations.find((v) => v.kind === kind);
      const shrunk = await shrink(ops, kind);
      const again = (await runSequence(shrunk)).find((v) => v.kind === kind) ?? first;
      found.push({ seed: SEED, sequence: i, kind, message: again.message, ops: shrunk.map(show), original: ops.length });
      if (!JSON_OUT)
        console.log(`seed ${SEED} sequence ${i}: ${kind}: ${again.message}\n  shrunk from ${ops.length} to ${shrunk.length}: ${shrunk.map(show).join(' ')}`);
    }
  }
  const summary = {
    seed: SEED,
    sequences: SEQUENCES,
    ops: OPS,
    failed: new Set(found.map((f) => f.sequence)).size,
    kinds: [...new Set(found.map((f) => f.kind))],
    ms: Date.now() - started,
  };
  if (JSON_OUT) console.log(JSON.stringify({ ...summary, found }));
  else
    console.log(
      `lifecycle: seed ${SEED}, ${SEQUENCES} sequences of ${OPS} operations: ${summary.failed} failed ${JSON.stringify(summary.kinds)} in ${summary.ms} ms`,
    );
  process.exit(found.length === 0 ? 0 : 1);
}

main();
