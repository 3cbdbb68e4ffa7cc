'use strict';
// tune()'s plan cache (lib/tuning/plan-cache.ts): a tuning object is compiled once, and again
// whenever its fields change. The property it must keep: tune(socket, t) holds or throws exactly as
// tune(socket, a fresh copy of t) does, whatever was done to t since its last use (nothing stale).
// Checked on real loopback sockets, read back from the kernel.
const knobs = require('../..');
const { tcpPair, closeAll, thrown } = require('../helpers');
const { mulberry32 } = require('../helpers/random');

afterEach(closeAll);

/** A deep copy of a tuning's data (what a fresh object with the same fields is). */
const fresh = (t) => JSON.parse(JSON.stringify(t));
/** What tune() does with `tuning` on `socket`: the error's code, or the kernel's values after. */
function outcome(socket, tuning) {
  try {
    knobs.tune(socket, tuning);
  } catch (err) {
    return { error: err.code, message: err.message };
  }
  return { state: knobs.getTuning(socket) };
}

test('a tuning mutated after its first use applies its new values: top-level, nested keepAlive and linger, replaced, removed', async () => {
  const { client } = await tcpPair();
  const t = { keepAlive: { idle: 61, interval: 11, count: 4 }, userTimeout: 45000, linger: { enable: true, seconds: 3 } };
  knobs.tune(client, t);
  expect(knobs.getTuning(client)).toMatchObject({ keepAlive: { idle: 61, interval: 11, count: 4 }, userTimeout: 45000, linger: { enable: true, seconds: 3 } });
  t.userTimeout = 46000;
  t.keepAlive.idle = 62;
  t.linger.seconds = 4;
  knobs.tune(client, t);
  expect(knobs.getTuning(client)).toMatchObject({ keepAlive: { idle: 62 }, userTimeout: 46000, linger: { seconds: 4 } });
  t.keepAlive = false;
  knobs.tune(client, t);
  expect(knobs.getTuning(client).keepAlive.enable).toBe(false);
  // A field removed is no longer set: the kernel keeps what it has.
  delete t.userTimeout;
  knobs.setUserTimeout(client, 47000);
  knobs.tune(client, t);
  expect(knobs.getTuning(client).userTimeout).toBe(47000);
});

test('a typo or a bad value added after the first use is refused, and nothing is applied', async () => {
  const { client } = await tcpPair();
  const t = { userTimeout: 45000 };
  knobs.tune(client, t);
  t.keepalive = { idle: 60 };
  expect(thrown(() => knobs.tune(client, t)).code).toBe('ERR_INVALID_ARG_VALUE');
  delete t.keepalive;
  t.userTimeout = -1;
  expect(thrown(() => knobs.tune(client, t))).toBeInstanceOf(knobs.InvalidArgumentError);
  expect(knobs.getTuning(client).userTimeout).toBe(45000);
});

test('a getter or a Proxy is read at every call, never cached: each call applies what it reads now', async () => {
  const { client } = await tcpPair();
  let n = 40000;
  const withGetter = {
    get userTimeout() {
      return (n += 1000);
    },
  };
  knobs.tune(client, withGetter);
  knobs.tune(client, withGetter);
  expect(knobs.getTuning(client).userTimeout).toBe(42000);
  let reads = 0;
  const proxy = new Proxy(
    { userTimeout: 30000 },
    {
      get: (target, key) => {
        if (key === 'userTimeout') reads++;
        return target[key];
      },
    },
  );
  for (let i = 0; i < 3; i++) knobs.tune(client, proxy);
  expect(reads).toBe(3);
  // A getter defined on a cached object after its first use is read too.
  const t = { userTimeout: 30000 };
  knobs.tune(client, t);
  let value = 31000;
  Object.defineProperty(t, 'userTimeout', { get: () => value, enumerable: true, configurable: true });
  knobs.tune(client, t);
  expect(knobs.getTuning(client).userTimeout).toBe(31000);
  value = 32000;
  knobs.tune(client, t);
  expect(knobs.getTuning(client).userTimeout).toBe(32000);
});

test('500 random mutations of one tuning object: each tune() holds or throws exactly as a fresh copy does (nothing stale)', async () => {
  // Two clients of two loopback servers: the same starting state (an accepted socket inherits its
  // listener's buffer sizes).
  const [{ client }, { client: other }] = await Promise.all([tcpPair(), tcpPair()]);
  const random = mulberry32(29);
  const pick = (xs) => xs[Math.floor(random() * xs.length)];
  const t = { keepAlive: { idle: 60 }, userTimeout: 45000 };
  const mutations = [
    () => (t.userTimeout = pick([30000, 45000, '40s', -5, 'x', 2 ** 40])),
    () => delete t.userTimeout,
    () => (t.keepAlive = pick([false, { idle: 30 }, { idle: 61, interval: 5, count: 3 }, { idle: 0 }])),
    () => t.keepAlive && typeof t.keepAlive === 'object' && (t.keepAlive.idle = pick([10, 20, 70000, '1m'])),
    () => t.keepAlive && typeof t.keepAlive === 'object' && delete t.keepAlive.interval,
    () => (t.noDelay = pick([true, false, 1])),
    () => delete t.noDelay,
    () => (t.linger = pick([{ enable: true, seconds: 2 }, { enable: false, seconds: 0 }, { enable: 'yes' }])),
    () => t.linger && (t.linger.seconds = pick([1, 5, -1])),
    () => delete t.linger,
    () => (t.keepalive = 1),
    () => delete t.keepalive,
    () => {}, // unchanged: the cached plan
  ];
  let applied = 0;
  let refused = 0;
  for (let step = 0; step < 500; step++) {
    pick(mutations)();
    const copy = fresh(t);
    const mine = outcome(client, t);
    const theirs = outcome(other, copy);
    expect({ step, ...mine }).toEqual({ step, ...theirs });
    if (mine.error) refused++;
    else applied++;
  }
  // Both kinds of outcome were exercised.
  expect(applied).toBeGreaterThan(100);
  expect(refused).toBeGreaterThan(50);
});

test("dial()'s tuning uses the same cache: one tuning object reused across dials, mutated between them, each socket holds the values given at its dial", async () => {
  const { server } = await tcpPair();
  const { port } = server.address();
  const tuning = { receiveBufferSize: 65536, userTimeout: 41000, keepAlive: { idle: 71 } };
  const rng = mulberry32(7);
  const seen = { refused: 0, held: 0 };
  for (let i = 0; i < 16; i++) {
    const roll = rng();
    // Unchanged (the cache's hit), a top-level field changed (before connect), a nested one (after), a bad value.
    if (roll < 0.3) tuning.receiveBufferSize = 32768 * (1 + (i % 3));
    else if (roll < 0.6) tuning.keepAlive.idle = 60 + i;
    else if (roll < 0.75) tuning.userTimeout = -5;
    const expected = fresh(tuning);
    const valid = expected.userTimeout >= 0;
    let socket;
    try {
      socket = await knobs.dial({ host: '127.0.0.1', port, tuning });
    } catch (err) {
      expect({ i, valid, error: err.code }).toEqual({ i, valid: false, error: 'ERR_OUT_OF_RANGE' });
      tuning.userTimeout = 41000;
      seen.refused++;
      continue;
    }
    expect({ i, valid }).toEqual({ i, valid: true });
    const state = knobs.getTuning(socket);
    // SO_RCVBUF reads back doubled (Linux's bookkeeping).
    expect({ i, rcvbuf: state.receiveBufferSize, idle: state.keepAlive.idle, userTimeout: state.userTimeout }).toEqual({
      i,
      rcvbuf: expected.receiveBufferSize * 2,
      idle: expected.keepAlive.idle,
      userTimeout: expected.userTimeout,
    });
    seen.held++;
    socket.destroy();
  }
  expect(seen.refused).toBeGreaterThan(0);
  expect(seen.held).toBeGreaterThan(5);
});

// A tuning written in each call is a new object every time: its fields are read once and compared
// with the last such object's (lib/tuning/plan-cache.ts, lastRead); dial()'s options likewise
// (lib/dial/plan.ts, lastDial). The reference compiles afresh: createTuner() (compileTuning, no
// cache), and for dial() a check of each field by hand. Near misses of the last object: the same
// value spelt otherwise, -0 for 0, false for { enable: false }, a field added or removed.

/** What `apply(socket)` does: the error's class and code, or the kernel's values after. */
function applied(socket, apply) {
  try {
    apply(socket);
  } catch (err) {
    return { error: `${err.constructor.name} ${err.code}` };
  }
  return { state: knobs.getTuning(socket) };
}

test('500 tunings written in each call, each a near miss of the last: tune() holds or throws exactly as createTuner() of a copy (compiled afresh)', async () => {
  const [{ client }, { client: other }] = await Promise.all([tcpPair(), tcpPair()]);
  const random = mulberry32(31);
  const pick = (xs) => xs[Math.floor(random() * xs.length)];
  let last = { keepAlive: { idle: 60 }, userTimeout: 45000 };
  const mutations = [
    (t) => (t.userTimeout = pick([45000, '45s', 45000.0, 0, -0, 30000, -5])),
    (t) => (t.userTimeout = pick([0, -0])), // the near miss that only Object.is tells apart
    (t) => (t.userTimeout = pick([0, -0])),
    (t) => delete t.userTimeout,
    (t) => (t.keepAlive = pick([false, { enable: false }, {}, { idle: 60 }, { idle: '60s' }, { idle: 60, interval: 5 }])),
    (t) => t.keepAlive && typeof t.keepAlive === 'object' && (t.keepAlive.idle = pick([60, 61, '1m', 0, -0])),
    (t) => (t.noDelay = pick([true, false, 1])),
    (t) => delete t.noDelay,
    (t) =>
      (t.linger = pick([
        { enable: true, seconds: 2 },
        { enable: false, seconds: 0 },
        { enable: true, seconds: -0 },
      ])),
    (t) => delete t.linger,
    (t) => (t.deadPeerTimeout = pick(['30s', 30000, '30000ms'])),
    (t) => delete t.deadPeerTimeout,
    (t) => (t.keepalive = 1),
    (t) => delete t.keepalive,
    () => {}, // the same fields: the last plan
  ];
  const outcomes = { applied: 0, refused: 0 };
  for (let step = 0; step < 500; step++) {
    const next = structuredClone(last); // a new object, -0 kept
    pick(mutations)(next);
    const mine = applied(client, (socket) => knobs.tune(socket, next));
    const copy = structuredClone(next);
    const theirs = applied(other, (socket) => knobs.createTuner(copy).apply(socket));
    expect({ step, tuning: next, ...mine }).toEqual({ step, tuning: next, ...theirs });
    outcomes[mine.error ? 'refused' : 'applied']++;
    // The next object starts from this one; after a refusal, mostly from the last accepted one (a
    // caller correcting its mistake), so that both outcomes come often.
    if (!mine.error || random() < 0.2) last = next;
  }
  expect(outcomes.applied).toBeGreaterThan(50);
  expect(outcomes.refused).toBeGreaterThan(50);
});

test('40 dials with options written in each call, each a near miss of the last: each dial holds or throws exactly as a copy of the package compiling them afresh', async () => {
  const { server } = await tcpPair();
  const { port } = server.address();
  let copy;
  jest.isolateModules(() => {
    copy = require(require('node:path').join(__dirname, '..', '..', 'dist', 'modules', 'index.js'));
  });
  const random = mulberry32(41);
  const pick = (xs) => xs[Math.floor(random() * xs.length)];
  /** A dial's outcome: the error's class and code, or what the kernel holds on the socket. */
  const dialed = async (api, options) => {
    let socket;
    try {
      socket = await api.dial(options);
    } catch (err) {
      return { error: `${err.constructor.name} ${err.code}` };
    }
    const state = { synRetries: knobs.getsockopt(socket, 'IPPROTO_TCP', 'TCP_SYNCNT'), ...knobs.getTuning(socket) };
    socket.destroy();
    return { state };
  };
  let last = { host: '127.0.0.1', port, synRetries: 2, tuning: { receiveBufferSize: 65536 } };
  const mutations = [
    (o) => (o.synRetries = pick([2, 3, 2.0, 0, -0, 300, '2'])),
    (o) => delete o.synRetries,
    (o) =>
      (o.tuning = pick([
        { receiveBufferSize: 65536 },
        { receiveBufferSize: 65536, userTimeout: 41000 },
        { userTimeout: 0 },
        { userTimeout: -0 },
        { keepAlive: false },
      ])),
    (o) => o.tuning && (o.tuning.receiveBufferSize = pick([65536, 32768, -0, 0])),
    (o) => delete o.tuning,
    (o) => (o.timeout = pick([1000, 2000])),
    (o) => delete o.timeout,
    (o) => (o.family = pick([0, 4, 6])),
    (o) => delete o.family,
    () => {}, // the same fields: the last plan
  ];
  const outcomes = { held: 0, refused: 0 };
  for (let i = 0; i < 40; i++) {
    const next = structuredClone(last);
    pick(mutations)(next);
    const mine = await dialed(knobs, next);
    // The copy dials something else first, so that its last options are not these.
    (await copy.dial({ host: '127.0.0.1', port, attemptDelay: 11 + i })).destroy();
    const theirs = await dialed(copy, structuredClone(next));
    expect({ i, options: next, ...mine }).toEqual({ i, options: next, ...theirs });
    outcomes[mine.error ? 'refused' : 'held']++;
    if (!mine.error || random() < 0.2) last = next;
  }
  expect(outcomes.held).toBeGreaterThan(10);
  expect(outcomes.refused).toBeGreaterThan(5);
});

test("each dial reads its tuning's fields exactly once, whether its values are the last dial's or not (20 dials, a getter counting its reads)", async () => {
  const { server } = await tcpPair();
  const { port } = server.address();
  const random = mulberry32(43);
  let reads = 0;
  for (let i = 0; i < 20; i++) {
    // The same other options every time: the dial's own cache compares them, then the tuning.
    const value = random() < 0.5 ? 65536 : 32768;
    const tuning = {
      get receiveBufferSize() {
        reads++;
        return value;
      },
    };
    const before = reads;
    const socket = await knobs.dial({ host: '127.0.0.1', port, synRetries: 3, tuning });
    expect({ i, reads: reads - before, rcvbuf: knobs.getTuning(socket).receiveBufferSize }).toEqual({ i, reads: 1, rcvbuf: value * 2 });
    socket.destroy();
  }
});
