#!/usr/bin/env node
'use strict';
// Seeded fuzzing of socket-knobs' whole public API, on real sockets.
//
//   node test/fuzz/fuzz.js [--seed N] [--calls N] [--package DIR]
//
// --package runs the same calls against another copy of the package (an older build, to count
// what the fixes closed).
//
// Every exported function is called with random arguments of every JS type (numbers at and past
// every limit, NaN, ±Infinity, -0, BigInt, Symbol, strings, constant names, '__proto__', Proxies
// and objects whose getters or traps throw, Buffers/typed arrays/DataViews of every length,
// detached buffers, values from another realm, duration strings) against connected, accepted,
// listening, pending, destroyed, UDP and Unix-domain sockets, http2 sessions and their socket
// Proxies, and raw fds; calls repeated on one connecting socket, and re-entrant ones (a getter
// that calls socket-knobs while socket-knobs reads its options); dial(), dialAgent() and dialConnector()
// to loopback only, with resolvers that misbehave (garbage answers, twice, later) and control callbacks.
// The contract: each call returns, or throws (or, for listen() and dial(), rejects with) a SocketOptionError. Anything else "escapes" and is reported; a crash ends the
// process, which the test that spawns this script sees. Raw fds are only ever the fuzzer's own
// sockets (or closed/invalid numbers): it never touches stdio or Node's internal fds.
const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const http2 = require('node:http2');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');

const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const knobs = require(args.includes('--package') ? path.resolve(args[args.indexOf('--package') + 1]) : '../..');
const SEED = arg('--seed', 1);
const CALLS = arg('--calls', 20000);

const random = require('../helpers/random').mulberry32(SEED);
const pick = (list) => list[Math.floor(random() * list.length)];
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));

const NAMES = [
  ...knobs.LEVELS,
  ...knobs.SOCKET_CONSTANTS,
  ...knobs.OPTIONS.map((r) => r.name),
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '',
  'TCP_KEEPIDEL',
  'SO_RCVTIMEO',
];
// Time fields take a number or a string with its unit: well-formed, not whole, out of range, odd.
const DURATIONS = [
  '45s',
  '1.5s',
  '1500ms',
  '90000ms',
  '2m',
  '1h',
  '250us',
  '0s',
  '60',
  's',
  '1e3s',
  '-5s',
  ' 5s',
  '5 s',
  '99999999999999s',
  '1.0000000001s',
  '５s',
  `${'9'.repeat(20)}ms`,
];

// Values made in another realm (a vm context): their prototypes are not this realm's.
const realm = vm.createContext({});
const FOREIGN = [
  () => vm.runInContext('({ idle: 5, interval: 2, count: 3 })', realm),
  () => vm.runInContext('({ keepAlive: { idle: 61 }, userTimeout: 5000, noDelay: true })', realm),
  () => vm.runInContext('({ enable: true, seconds: 3 })', realm),
  () => vm.runInContext('new Uint8Array(8)', realm),
  () => vm.runInContext('new DataView(new ArrayBuffer(4))', realm),
  () => vm.runInContext('[1, 2]', realm),
  () => vm.runInContext('new Proxy({}, { get() { throw new Error("foreign trap") } })', realm),
  () => vm.runInContext('(() => { const p = Proxy.revocable({}, {}); p.revoke(); return p.proxy })()', realm),
];

const NUMBERS = [
  0,
  1,
  -1,
  2,
  3,
  60,
  127,
  128,
  255,
  256,
  32767,
  32768,
  65535,
  65536,
  65537,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31),
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 53,
  NaN,
  Infinity,
  -Infinity,
  -0,
  0.5,
  1.5,
  1e308,
  Number.MIN_VALUE,
  Number.EPSILON,
];

function hostileObject() {
  return pick([
    () => ({
      get idle() {
        throw new Error('getter');
      },
    }),
    () =>
      new Proxy(
        {},
        {
          ownKeys() {
            throw new Error('ownKeys');
          },
        },
      ),
    () =>
      new Proxy(
        {},
        {
          get() {
            throw new Error('get');
          },
        },
      ),
    () =>
      new Proxy(
        {},
        {
          getPrototypeOf() {
            throw new Error('getPrototypeOf');
          },
        },
      ),
    () =>
      new Proxy(new net.Socket(), {
        get() {
          throw new Error('socket get');
        },
      }),
    () => ({
      valueOf() {
        throw new Error('valueOf');
      },
      toString() {
        throw new Error('toString');
      },
    }),
    () => Object.create(null),
    () => Object.freeze({ enable: true }),
    () => ({ __proto__: { idle: 5 } }),
    () => JSON.parse('{"__proto__": {"idle": 1}, "count": 2}'),
    () => ({ constructor: 5 }),
    () => ({ constructor: { name: 7 } }),
    // Revoked Proxies: every operation on them throws, Array.isArray included.
    () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    },
    // Inherited fields (enumerable or not) must never be applied: only the fields given count.
    () => Object.create({ idle: 5, enable: false, port: 1, reusePort: true }),
    () => Object.create(Object.defineProperty({}, 'seconds', { value: 5, enumerable: false })),
    // Huge keys and class names: errors must stay small.
    () => ({ [HUGE]: 1 }),
    () => new (class extends Object {})(),
    () => new { [HUGE]: class {} }[HUGE](),
  ])();
}

const HUGE = 'k'.repeat(1 << 20);

// A Uint8Array subclass that lies about its length.
class LyingBytes extends Uint8Array {
  get byteLength() {
    return 4;
  }
  get length() {
    return 4;
  }
}

/** A length-tracking view of a resizable buffer, and a way to resize it later. */
function resizable(length) {
  const buffer = new ArrayBuffer(length, { maxByteLength: 140000 });
  const view = new Uint8Array(buffer);
  return { view, resize: (n) => buffer.resize(n) };
}

function bytes() {
  const length = pick([0, 1, 2, 3, 4, 7, 8, 16, 64, 4096, 65536, 65537, int(0, 70000)]);
  return pick([
    () => Buffer.alloc(length, int(0, 255)),
    () => new Uint8Array(length),
    () => new Int32Array(Math.ceil(length / 4)),
    () => new Float64Array(Math.ceil(length / 8)),
    () => new BigInt64Array(Math.ceil(length / 8)),
    () => new DataView(new ArrayBuffer(length)),
    () => new Uint8Array(new SharedArrayBuffer(Math.max(1, length))),
    () => Buffer.alloc(length + 8).subarray(int(0, 8)),
    () => {
      const buffer = new ArrayBuffer(length);
      const view = new Uint8Array(buffer);
      structuredClone(buffer, { transfer: [buffer] }); // detaches: the view now has no bytes
      return view;
    },
    () => new ArrayBuffer(length),
    () => resizable(length).view,
    () => new LyingBytes(pick([8, 70000, 140000])),
    () => {
      const buffer = Buffer.alloc(length);
      structuredClone(buffer.buffer, { transfer: [buffer.buffer] }); // a detached Buffer
      return buffer;
    },
  ])();
}

function value() {
  return pick([
    () => pick(NUMBERS),
    () => int(-5, 70000),
    () => pick([0n, 1n, 2n ** 64n, -1n]),
    () => Symbol('s'),
    () => pick(NAMES),
    () => 'x'.repeat(pick([0, 1, 100, 100000])),
    () => HUGE,
    () => pick([true, false]),
    () => pick([null, undefined]),
    () => pick([{}, [], [1, 2], () => 1, new Date(), /re/, new Map()]),
    hostileObject,
    bytes,
    () => pick(DURATIONS),
    () => pick(FOREIGN)(),
  ])();
}

function optionsObject(fields) {
  if (random() < 0.15) return value();
  const out = {};
  for (const field of fields) if (random() < 0.6) out[field] = random() < 0.6 ? pick(NUMBERS.concat([true, false, 1, 5, 60], DURATIONS)) : value();
  if (random() < 0.1) out[pick(['intervall', 'idel', 'foo'])] = 1;
  return random() < 0.1 ? hostileObject() : out;
}

// --- targets ------------------------------------------------------------------------------------

const owned = { sockets: [], fds: new Set(), sessions: [] };
let tcpServer;
let h2Server;
let unixServer;
let unixDir;

function remember(socket) {
  owned.sockets.push(socket);
  socket.on?.('error', () => {});
  return socket;
}

function fdOf(thing) {
  if (thing instanceof dgram.Socket) return; // its handle is internal; it is reached as an object
  try {
    const fd = thing._handle ? thing._handle.fd : -1;
    if (fd > 2) owned.fds.add(fd);
  } catch {
    // not ours to inspect
  }
}

async function setup() {
  tcpServer = net.createServer((s) => {
    remember(s);
    fdOf(s);
  });
  await new Promise((resolve) => tcpServer.listen(0, '127.0.0.1', resolve));
  fdOf(tcpServer);
  unixDir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-fuzz-'));
  unixServer = net.createServer((s) => remember(s));
  await new Promise((resolve) => unixServer.listen(path.join(unixDir, 's'), resolve));
  fdOf(unixServer);
  h2Server = http2.createServer();
  h2Server.on('session', (session) => {
    session.on('error', () => {});
    owned.sessions.push(session);
  });
  h2Server.on('stream', (stream) => stream.respond() || stream.end());
  await new Promise((resolve) => h2Server.listen(0, '127.0.0.1', resolve));
  await refillTargets();
}

async function refillTargets() {
  for (let i = 0; i < 3; i++) {
    const client = remember(net.connect(tcpServer.address().port, '127.0.0.1'));
    await new Promise((resolve) => client.once('connect', resolve).once('error', resolve));
    fdOf(client);
  }
  const udp = remember(dgram.createSocket(pick(['udp4', 'udp6'])));
  await new Promise((resolve) => {
    udp.once('error', resolve);
    udp.bind(0, udp.type === 'udp4' ? '127.0.0.1' : '::1', resolve);
  });
  fdOf(udp);
  const unixClient = remember(net.connect(unixServer.address()));
  await new Promise((resolve) => unixClient.once('connect', resolve).once('error', resolve));
  fdOf(unixClient);
  const session = http2.connect(`http://127.0.0.1:${h2Server.address().port}`);
  session.on('error', () => {});
  owned.sessions.push(session);
  await new Promise((resolve) => session.once('connect', resolve).once('error', resolve));
}

/** An http2 session (client or server side, maybe still connecting or destroyed), or its socket Proxy. */
function h2Target() {
  if (random() < 0.2) {
    const session = http2.connect(`http://127.0.0.1:${h2Server.address().port}`);
    session.on('error', () => {});
    owned.sessions.push(session);
    return session; // still connecting
  }
  const session = pick(owned.sessions);
  if (random() < 0.05) session.destroy();
  return random() < 0.4 ? session.socket : session;
}

function target() {
  return pick([
    () => pick(owned.sockets),
    () => pick(owned.sockets),
    () => tcpServer,
    () => unixServer,
    () => remember(net.connect(tcpServer.address().port, '127.0.0.1')), // pending: fd -1 until next tick
    () => new net.Socket(),
    () => net.createServer(),
    () => remember(dgram.createSocket('udp4')), // unbound
    () => {
      const s = pick(owned.sockets);
      s.destroy?.();
      return s;
    },
    () => (owned.fds.size ? pick([...owned.fds]) : 2 ** 31 - 1),
    fakeTarget,
    h2Target,
    () => pick([2 ** 31 - 1, 1 << 20, -1, 3.5, NaN, '5', 5n]),
    value,
  ])();
}

/**
 * Objects that pose as Node sockets with damaged handles. Their fds are never valid numbers, so a
 * call can only refuse them: a fake with a valid fd would be a raw fd, which the fuzzer picks itself.
 */
function fakeTarget() {
  const badFd = pick([18.7, 18 + 2 ** 32, NaN, -0, Infinity, '18', 18n, {}, null]);
  return pick([
    () => {
      const socket = new net.Socket();
      socket._handle = { fd: badFd };
      return socket;
    },
    () => {
      const socket = new net.Socket();
      socket._handle = { _parent: { fd: badFd } };
      return socket;
    },
    () => {
      const server = net.createServer();
      server._handle = { fd: badFd };
      return server;
    },
    () => {
      // A fake dgram.Socket with a state symbol of its own: it must not change how real UDP
      // sockets are read afterwards (the real ones in the pool keep returning values).
      const fake = Object.create(dgram.Socket.prototype);
      fake[Symbol('state symbol')] = { handle: pick([{ fd: badFd }, null, undefined]) };
      return fake;
    },
  ])();
}

// --- calls --------------------------------------------------------------------------------------

const K = knobs;
const CALL_MAKERS = [
  () => ['setKeepAlive', [target(), optionsObject(['enable', 'idle', 'interval', 'count'])]],
  () => ['getKeepAlive', [target()]],
  () => [pick(['setReuseAddress', 'setReusePort', 'setNoDelay']), [target(), random() < 0.7 ? pick([true, false]) : value()]],
  () => [pick(['getReuseAddress', 'getReusePort', 'getNoDelay', 'getUserTimeout', 'getReceiveBufferSize', 'getSendBufferSize', 'getLinger']), [target()]],
  () => [pick(['setUserTimeout', 'setReceiveBufferSize', 'setSendBufferSize']), [target(), random() < 0.7 ? pick(NUMBERS) : value()]],
  () => ['setLinger', [target(), optionsObject(['enable', 'seconds'])]],
  () => [
    'setsockopt',
    [
      target(),
      random() < 0.7 ? pick(NAMES) : value(),
      random() < 0.7 ? pick(NAMES) : random() < 0.5 ? int(0, 300) : value(),
      random() < 0.5 ? pick(NUMBERS) : value(),
    ],
  ],
  () => [
    'getsockopt',
    [
      target(),
      random() < 0.7 ? pick(NAMES) : value(),
      random() < 0.7 ? pick(NAMES) : random() < 0.5 ? int(0, 300) : value(),
      ...(random() < 0.5 ? [random() < 0.5 ? pick(NUMBERS) : value()] : []),
    ],
  ],
  () => ['isSupported', [random() < 0.7 ? pick(NAMES) : value()]],
  () => ['createListeningSocket', [optionsObject(['port', 'host', 'backlog', 'reuseAddress', 'reusePort', 'ipv6Only'])]],
  () => ['listen', [random() < 0.8 ? net.createServer() : value(), optionsObject(['port', 'host', 'backlog', 'reuseAddress', 'reusePort', 'ipv6Only'])]],
  () => ['listen', [net.createServer(), listenExtras(optionsObject(['port', 'host', 'backlog', 'reuseAddress', 'fastOpen']))]],
  () => ['dial', [dialOptions(true)]],
  () => ['dialAgent', [random() < 0.7 ? new http.Agent() : value(), dialOptions(false)]],
  () => ['dialConnector', [dialOptions(false)]],
  // A dialed connector used as undici would: its callback gets a socket or an error.
  () => {
    let connector;
    try {
      connector = knobs.dialConnector(dialOptions(false));
    } catch {
      return ['dialConnector', [value()]];
    }
    const done = new Promise((resolve) => {
      connector(
        { hostname: pick(['127.0.0.1', 'localhost', '::1']), protocol: 'http:', port: pick([tcpServer.address().port, 1, '0', 'x']) },
        (err, socket) => {
          if (socket) socket.destroy();
          resolve(err);
        },
      );
    });
    return ['(connector)', [done]];
  },
  () => ['probe', []],
  () => ['tune', [target(), tuningObject()]],
  () => ['getTuning', [target()]],
  () => ['createTuner', [tuningObject()]],
  () => ['tuneOnConnect', [random() < 0.7 ? target() : value(), tuningObject()]],
  () => ['tuneAgent', [random() < 0.7 ? new http.Agent() : value(), tuningObject()]],
  () => ['tuneConnector', [random() < 0.7 ? (options, callback) => callback(null, null) : value(), tuningObject()]],
  () => ['getTcpInfo', [target()]],
  // Every row of the table read without a length, on any target.
  () => {
    const row = pick(knobs.OPTIONS);
    return ['getsockopt', [target(), row.level, row.name]];
  },
  // tuneOnConnect on an http2 session or its socket Proxy.
  () => ['tuneOnConnect', [h2Target(), tuningObject()]],
  // The same, with a tuning the kernel refuses at 'connect' (an unknown algorithm): what a session's
  // refusal turns into must never be an uncaught exception.
  () => ['tuneOnConnect', [h2Target(), { congestionControl: pick(['nosuch', 'reno']), noDelay: true }]],
  // Repeated calls on one connecting socket: one pending tuning, the last one.
  () => {
    const socket = remember(net.connect(tcpServer.address().port, '127.0.0.1'));
    for (let n = int(1, 50); n > 0; n--) {
      try {
        knobs.tuneOnConnect(socket, random() < 0.8 ? { keepAlive: { idle: int(1, 100) }, noDelay: pick([true, false]) } : tuningObject());
      } catch {
        // validation errors are counted by the final call below
      }
    }
    return ['tuneOnConnect', [socket, tuningObject()]];
  },
  // Re-entrant: reading the tuning calls socket-knobs on the same socket.
  () => {
    const socket = pick(owned.sockets);
    const reentrant = {
      get userTimeout() {
        try {
          knobs.tune(socket, { noDelay: true });
          knobs.getTuning(socket);
          knobs.tuneOnConnect(socket, { userTimeout: 1000 });
        } catch {
          // the outer call's outcome is what is checked
        }
        return pick([1000, 'x', -1]);
      },
    };
    const name = pick(['tune', 'tuneOnConnect', 'createTuner']);
    return [name, name === 'createTuner' ? [reentrant] : [socket, reentrant]];
  },
  () => ['setCongestionControl', [target(), random() < 0.6 ? pick(['reno', 'bbr', 'cubic', 'nosuch', '', 'x'.repeat(16)]) : value()]],
  () => ['getCongestionControl', [target()]],
  // A value whose buffer a target's getter resizes after the value was validated.
  () => {
    const { view, resize } = resizable(pick([4, 8]));
    const real = pick(owned.sockets);
    const proxied = new Proxy(real, {
      get(object, key) {
        if (key === '_handle') resize(pick([0, 2, 100000, 140000]));
        const field = Reflect.get(object, key, object);
        return typeof field === 'function' ? field.bind(object) : field;
      },
    });
    return ['setsockopt', [proxied, 'SOL_SOCKET', pick(['SO_RCVBUF', 'SO_LINGER', 'SO_SNDBUF']), view]];
  },
];

/** A control(fd) callback: does nothing, sets an option (which may be refused: typed), or is not a function. */
function controlCallback() {
  return pick([
    () => () => undefined,
    () => (fd) => knobs.setsockopt(fd, 'SOL_SOCKET', 'SO_KEEPALIVE', 1),
    () => (fd) => knobs.setsockopt(fd, 'IPPROTO_TCP', 'TCP_CONGESTION', pick(['nosuch', Buffer.from('reno')])),
    () => (fd) => knobs.setsockopt(fd, 'IPPROTO_TCP', 'TCP_KEEPIDLE', pick([0, -1, 60])),
    value,
  ])();
}

/** A dns.lookup-like resolver: the real one, Node's kind of failure, or results a buggy resolver gives, at once or later. */
function lookupCallback() {
  const results = pick([
    [{ address: '127.0.0.1', family: 4 }],
    [
      { address: '::1', family: 6 },
      { address: '127.0.0.1', family: 4 },
    ],
    [],
    null,
    'x',
    [null, 1, { address: '127.0.0.1', family: 6 }, { address: 'nope', family: 4 }],
    [{ address: '127.0.0.1' }],
  ]);
  const later = random() < 0.5;
  return pick([
    () => require('node:dns').lookup,
    () => (host, options, callback) => {
      const answer = () => callback(null, results);
      if (later) setImmediate(answer);
      else answer();
    },
    () => (host, options, callback) => {
      const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo', hostname: host });
      if (later) setImmediate(() => callback(err));
      else callback(err);
    },
    // Called back twice.
    () => (host, options, callback) => {
      callback(null, [{ address: '127.0.0.1', family: 4 }]);
      setImmediate(() => callback(null, [{ address: '127.0.0.1', family: 4 }]));
    },
    () => value(),
  ])();
}

/** dial()'s fields, from its plan (this source tree's build: the same version as a --package under test). */
const { DIAL_FIELDS } = require('../../dist/modules/dial/plan.js');
/** The fields dialOptions sets itself: a destination on loopback, callbacks from the lists above, a tuning. */
const SET_BELOW = new Set(['host', 'port', 'lookup', 'control', 'tuning']);

/** dial() options (with a loopback destination when `destination`): every field random, callbacks from the lists above. */
function dialOptions(destination) {
  // Every dial() field (the plan's own list: a new field is fuzzed at once), but those set below.
  const out = optionsObject(DIAL_FIELDS.filter((f) => !SET_BELOW.has(f)));
  if (!out || typeof out !== 'object' || isHostile(out) || Object.isFrozen(out)) return out;
  if (destination) {
    out.host = random() < 0.9 ? pick(['127.0.0.1', '::1', 'localhost']) : value();
    out.port = random() < 0.8 ? pick([tcpServer.address().port, 1]) : value();
  } else if (random() < 0.1) {
    out.host = '127.0.0.1';
  }
  if (typeof out.localAddress !== 'undefined' && random() < 0.5) out.localAddress = pick(['127.0.0.1', '::1', '0.0.0.0', '127.0.0.2']);
  if (random() < 0.3) {
    out.lookup = lookupCallback();
    // A name, so that the resolver is asked (IP literals skip it); localhost, so that the real one never leaves the machine.
    if (destination && random() < 0.9) out.host = 'localhost';
  }
  if (random() < 0.3) out.control = controlCallback();
  if (random() < 0.3) out.tuning = tuningObject();
  // Never a dial that waits on nothing: connectTimeout bounds a lookup that never answers.
  if (typeof out.lookup === 'function' && out.lookup.length < 3) out.connectTimeout = 2000;
  return out;
}

/** listen()'s newer options on a loopback listener. */
function listenExtras(options) {
  if (!options || typeof options !== 'object' || isHostile(options) || Object.isFrozen(options)) return options;
  if (random() < 0.3) options.mptcp = random() < 0.8 ? pick([true, false]) : value();
  if (random() < 0.4) options.control = controlCallback();
  if (random() < 0.4) options.tuning = tuningObject();
  return options;
}

function tuningObject() {
  if (random() < 0.15) return value();
  const out = optionsObject(['userTimeout', 'noDelay', 'receiveBufferSize', 'sendBufferSize', 'notSentLowWatermark', 'mark', 'priority']);
  if (out && typeof out === 'object' && !isHostile(out) && !Object.isFrozen(out)) {
    if (random() < 0.5) out.keepAlive = random() < 0.2 ? false : optionsObject(['enable', 'idle', 'interval', 'count']);
    if (random() < 0.3) out.linger = optionsObject(['enable', 'seconds']);
    if (random() < 0.3) out.congestionControl = random() < 0.7 ? pick(['reno', 'bbr', 'nosuch']) : value();
    if (random() < 0.2) out.deadPeerTimeout = random() < 0.7 ? pick(['5s', '30s', 3000, 12000, 2999, '21h', 30]) : value();
  }
  return out;
}

// Listening sockets may only ever bind loopback (or fail): any other host is replaced.
function confine(name, callArgs) {
  const index = name === 'listen' ? 1 : 0;
  const options = callArgs[index];
  if ((name === 'createListeningSocket' || name === 'listen') && options && typeof options === 'object' && !isHostile(options)) {
    if (!['127.0.0.1', '::1', 'localhost', 'not-an-ip', '::1%x'].includes(options.host))
      options.host = pick(['127.0.0.1', '::1', 'localhost', 'not-an-ip', '::1%x']);
    if (typeof options.port === 'number' && options.port < 1024 && options.port !== 0) options.port = 0;
  }
  return callArgs;
}

function isHostile(object) {
  try {
    Object.keys(object);
    void object.host;
    return Object.isFrozen(object);
  } catch {
    return true;
  }
}

function describe(error) {
  try {
    return `${error && error.constructor && error.constructor.name}: ${String(error && error.message).slice(0, 200)}`;
  } catch {
    return 'an unprintable error';
  }
}

/**
 * What a call returned, checked where the contract says more than "returns": a string or struct
 * option read without a length must not come back as a number (four bytes read as an int).
 */
function wrongResult(name, callArgs, result) {
  if (name !== 'getsockopt' || callArgs.length !== 3 || typeof result !== 'number') return null;
  const row = K.OPTIONS.find((r) => r.name === callArgs[2] || (K.constants[r.name] === callArgs[2] && K.constants[r.level] === callArgs[1]));
  return row && (row.kind === 'string' || row.kind === 'struct' || row.kind === 'linger') ? `${row.name} (${row.kind}) read as the int ${result}` : null;
}

async function main() {
  await setup();
  const summary = { seed: SEED, calls: 0, returned: 0, threw: {}, escaped: 0, escapes: [] };
  const escape = (call, error) => {
    summary.escaped++;
    if (summary.escapes.length < 20) summary.escapes.push({ call, error });
  };
  // An exception nobody can catch (thrown from inside Node's own events) or a listener pile-up
  // warning is an escape too: the process survives here only so that the run can count them.
  process.on('uncaughtException', (error) => escape('(uncaught)', describe(error)));
  process.on('warning', (warning) => {
    if (warning.name === 'MaxListenersExceededWarning') escape('(warning)', `${warning.name}: ${String(warning.message).slice(0, 120)}`);
  });
  const record = (name, error) => {
    if (error instanceof K.SocketOptionError) {
      summary.threw[error.constructor.name] = (summary.threw[error.constructor.name] || 0) + 1;
      // Errors must be safe to log and serialize, and small whatever the input (README: < 1 KB).
      const json = JSON.stringify(error);
      String(error);
      if (json.length >= 1024) {
        summary.escaped++;
        if (summary.escapes.length < 20) summary.escapes.push({ call: name, error: `an error of ${json.length} bytes as JSON: ${describe(error)}` });
      }
      return;
    }
    summary.escaped++;
    if (summary.escapes.length < 20) summary.escapes.push({ call: name, error: describe(error) });
  };
  const pending = [];
  for (let i = 0; i < CALLS; i++) {
    const [name, callArgs] = pick(CALL_MAKERS)();
    confine(name, callArgs);
    summary.calls++;
    try {
      const result = name === '(connector)' ? callArgs[0] : K[name](...callArgs);
      const wrong = wrongResult(name, callArgs, result);
      if (wrong) escape(name, wrong);
      if (name === 'createListeningSocket') fs.closeSync(result);
      if (name === 'dial' || name === '(connector)') {
        const settled = name === 'dial' ? result : result.then((err) => (err ? Promise.reject(err) : undefined));
        pending.push(
          settled.then(
            (socket) => {
              summary.returned++;
              if (socket) socket.destroy();
            },
            (error) => record(name, error),
          ),
        );
      } else if (name === 'listen') {
        pending.push(
          result.then(
            (server) => {
              summary.returned++;
              server.close();
            },
            (error) => record(name, error),
          ),
        );
      } else {
        summary.returned++;
      }
    } catch (error) {
      record(name, error);
    }
    if (i % 500 === 499) {
      await Promise.all(pending.splice(0));
      // Keep a supply of live sockets: destroyed ones are dropped, new ones connected.
      owned.sockets = owned.sockets.filter((s) => {
        if (s.destroyed) return false;
        if (!(s instanceof dgram.Socket) || safeBound(s)) return true;
        try {
          s.close(); // an unbound UDP socket still holds its handle until closed
        } catch {
          // already closed
        }
        return false;
      });
      // Bounded: every pending connect a call makes adds two live sockets (both ends); without a
      // cap the pool, not socket-knobs, grows the process by megabytes per thousand calls.
      for (const s of owned.sockets.splice(0, Math.max(0, owned.sockets.length - 64))) {
        try {
          s.destroy ? s.destroy() : s.close();
        } catch {
          // already closed
        }
      }
      owned.fds.clear();
      for (const s of owned.sockets) fdOf(s);
      if (owned.sockets.length < 12) await refillTargets();
      // Give the event loop a turn, as a server does between requests: closed handles are only
      // released by their close callbacks, which run there (without it, RSS grows by the handles
      // of every socket the calls closed: a fuzzer artifact, not a leak).
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await Promise.all(pending);
  for (const s of owned.sockets) {
    try {
      s.destroy ? s.destroy() : s.close();
    } catch {
      // already closed
    }
  }
  for (const session of owned.sessions) session.destroy();
  h2Server.close();
  tcpServer.close();
  unixServer.close();
  fs.rmSync(unixDir, { recursive: true, force: true });
  if (global.gc) {
    // With --expose-gc: what the process still holds after a full GC (a leak would stay here).
    global.gc();
    global.gc();
    const m = process.memoryUsage();
    summary.memoryAfterGcMiB = {
      rss: Math.round(m.rss / 104857.6) / 10,
      heapUsed: Math.round(m.heapUsed / 104857.6) / 10,
      external: Math.round(m.external / 104857.6) / 10,
      arrayBuffers: Math.round(m.arrayBuffers / 104857.6) / 10,
    };
  }
  console.log(JSON.stringify(summary));
  setImmediate(() => process.exit(0));
}

function safeBound(socket) {
  try {
    socket.address();
    return true;
  } catch {
    return false;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
