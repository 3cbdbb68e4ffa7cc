'use strict';
// The shortcuts of the hot calls (issue 29), each against the property it must keep, on real
// loopback sockets read back from the kernel:
// - the one-entry caches (setKeepAlive's last timings as given and as validated, in
//   lib/options/sockopt.ts; setsockopt/getsockopt's last (level, option) pair, in lib/options/raw.ts):
//   every call holds or throws exactly as on a copy of the package that checks it afresh (nothing
//   stale, nothing let through), over random sequences of repeats and near misses;
// - the fd lookup without `destroyed` (lib/node/target.ts): a call acts on the socket's own open fd
//   or throws, never on a number reused by another socket.
const path = require('node:path');
const knobs = require('../..');
const { tcpPair, closeAll } = require('../helpers');
const { mulberry32 } = require('../helpers/random');

afterEach(closeAll);

const modules = path.join(__dirname, '..', '..', 'dist', 'modules', 'index.js');

/** Another copy of the package (its own module instances, so its own caches). */
function anotherCopy() {
  let copy;
  jest.isolateModules(() => {
    copy = require(modules);
  });
  return copy;
}

/** What `call()` returned, or the error's class and code. */
function resultOf(call) {
  try {
    return call();
  } catch (err) {
    return `${err.constructor.name} ${err.code}`;
  }
}

/** What `call(api)` did: the error's class and code, or 'ok'; then the kernel's keepalive values. */
function outcome(api, socket, call) {
  const result = resultOf(() => {
    call(api);
    return 'ok';
  });
  return { result, kernel: knobs.getKeepAlive(socket) };
}

/**
 * The reference for a one-entry cache: another copy of the package, and `uncached(call)`, which
 * runs `prime(copy)` (a call with other arguments, on a socket of its own) and then `call`, so the
 * copy's cache holds something else and it checks `call`'s arguments afresh.
 */
function uncachedCopy(prime) {
  const copy = anotherCopy();
  return {
    copy,
    uncached: (call) => {
      prime(copy);
      return call();
    },
  };
}

const SEQUENCES = 20;
const CALLS = 30;

test('setKeepAlive: each call holds or throws as on a copy that validates it afresh, whatever the calls before it', async () => {
  const { client } = await tcpPair();
  const { client: reference } = await tcpPair();
  const { client: scratch } = await tcpPair();
  const { copy, uncached } = uncachedCopy((other) => other.setKeepAlive(scratch, { idle: 7, interval: 7, count: 7 }));
  // Few values, each beside its near misses (the same number from another input, or one that must
  // be refused): a sequence meets each pair often.
  const IDLE = [60, '60', '60s', '60000ms', 61, -0, 0, NaN, 60.5, 32768, undefined];
  const INTERVAL = [10, '10', '10s', 11, 0, -0, undefined];
  const COUNT = [3, '3', 4, 0, -0, 128, undefined];
  for (let s = 0; s < SEQUENCES; s++) {
    const rng = mulberry32(1000 + s);
    const pick = (list) => list[Math.floor(rng() * list.length)];
    let previous = null;
    for (let i = 0; i < CALLS; i++) {
      // Calls repeat the previous arguments (the cache's hit, as a server's calls do), or change one
      // field of them (a near miss: '60' after 60, -0 after 0), or start afresh.
      const roll = rng();
      let args = { idle: pick(IDLE), interval: pick(INTERVAL), count: pick(COUNT) };
      if (previous !== null && roll < 0.4) args = previous;
      else if (previous !== null && roll < 0.85) {
        const field = pick(['idle', 'interval', 'count']);
        args = { ...previous, [field]: args[field] };
      }
      previous = args;
      const options = Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined || rng() < 0.5));
      const expected = outcome(copy, reference, (api) => uncached(() => api.setKeepAlive(reference, options)));
      const actual = outcome(knobs, client, (api) => api.setKeepAlive(client, options));
      expect({ sequence: s, call: i, options, ...actual }).toEqual({ sequence: s, call: i, options, ...expected });
    }
  }
});

test('setsockopt/getsockopt by name: each call holds or throws as on a copy that checks it afresh, whatever pair came before', async () => {
  const { client } = await tcpPair();
  const { client: reference } = await tcpPair();
  const { client: scratch } = await tcpPair();
  const { copy, uncached } = uncachedCopy((other) => other.getsockopt(scratch, 'SOL_SOCKET', 'SO_REUSEADDR'));
  const c = knobs.constants;
  // The same option by name and by number, a level where an option belongs, -0, unknown names.
  const LEVEL = ['IPPROTO_TCP', c.IPPROTO_TCP, -0, 'TCP_KEEPCNT', 'NO_SUCH_LEVEL', 6.5];
  const OPTION = ['TCP_KEEPCNT', c.TCP_KEEPCNT, -0, 'IPPROTO_TCP', 'NO_SUCH_OPTION', 'TCP_KEEPINTVL'];
  const VALUE = [3, 4, 5, 0, true, 2 ** 31];
  for (let s = 0; s < SEQUENCES; s++) {
    const rng = mulberry32(2000 + s);
    const pick = (list) => list[Math.floor(rng() * list.length)];
    let pair = [pick(LEVEL), pick(OPTION)];
    for (let i = 0; i < CALLS; i++) {
      if (rng() < 0.4) pair = [pick(LEVEL), pick(OPTION)];
      const [level, option] = pair;
      const value = pick(VALUE);
      const expectedSet = outcome(copy, reference, (api) => uncached(() => api.setsockopt(reference, level, option, value)));
      const actualSet = outcome(knobs, client, (api) => api.setsockopt(client, level, option, value));
      expect({ s, i, level, option, value, ...actualSet }).toEqual({ s, i, level, option, value, ...expectedSet });
      const expectedGet = resultOf(() => uncached(() => copy.getsockopt(reference, level, option)));
      const actualGet = resultOf(() => knobs.getsockopt(client, level, option));
      expect({ s, i, level, option, get: actualGet }).toEqual({ s, i, level, option, get: expectedGet });
    }
  }
});

test("a socket's fd is acted on only while its handle holds it open: inside its own _destroy yes, after destroy() never (its number reused by another socket)", async () => {
  // The lookup reads the handle's fd, not `destroyed` (lib/node/target.ts): libuv sets the fd to -1
  // when it closes the handle, before destroy() drops the handle. The property: a call acts on this
  // socket's own open fd or throws; it never reaches the socket that reuses the number.
  for (let i = 0; i < 40; i++) {
    const { client: doomed } = await tcpPair();
    let inside = null;
    const original = doomed._destroy;
    doomed._destroy = function (err, cb) {
      // destroyed is already true here, and the fd still open and this socket's.
      knobs.setReuseAddress(doomed, true);
      inside = { destroyed: doomed.destroyed, reuse: knobs.getReuseAddress(doomed) };
      return original.call(this, err, cb);
    };
    doomed.destroy();
    expect(inside).toEqual({ destroyed: true, reuse: true });
    const { client: next } = await tcpPair();
    for (const call of [() => knobs.setReuseAddress(doomed, true), () => knobs.getTcpInfo(doomed), () => knobs.setKeepAlive(doomed, { idle: 5 })]) {
      let code = null;
      try {
        call();
      } catch (err) {
        code = err.code;
      }
      expect({ i, code }).toEqual({ i, code: 'ERR_SOCKET_CLOSED' });
    }
    // Whatever number the next socket got (often the same), it was not touched.
    expect({ i, reuse: knobs.getReuseAddress(next) }).toEqual({ i, reuse: false });
    expect(knobs.getKeepAlive(next).idle).not.toBe(5);
  }
});

test('every 64-bit member of TCP_INFO decodes to its exact value (to 2^53), high word 0 or not, new, reused, in place at an offset, or shorter', () => {
  // The decoder reads the low word alone where the high one is 0 (scripts/gen.js: fewer heap
  // numbers per result); the property is the value, checked against BigInt over random structs.
  const { decodeTcpInfo, decodeTcpInfoIn, viewsOf } = require('../../dist/modules/options/tcpinfo.js');
  const { TCP_INFO_MEMBERS, TCP_INFO_KNOWN_LENGTH } = require('../../dist/modules/options/tcpinfo-layout.js');
  const wide = TCP_INFO_MEMBERS.filter(([, , kind]) => kind === 'u64' || kind === 'rate');
  expect(wide.length).toBeGreaterThan(8);
  const rng = mulberry32(64);
  const word = () => [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, Math.floor(rng() * 2 ** 32)][Math.floor(rng() * 6)];
  let reused;
  for (let i = 0; i < 300; i++) {
    const bytes = new Uint8Array(TCP_INFO_KNOWN_LENGTH);
    const view = new DataView(bytes.buffer);
    const expected = {};
    for (const [name, offset, kind] of wide) {
      const lo = word();
      const hi = rng() < 0.5 ? 0 : word();
      view.setUint32(offset, lo, true);
      view.setUint32(offset + 4, hi, true);
      expected[name] = kind === 'rate' && lo === 0xffffffff && hi === 0xffffffff ? Infinity : Number((BigInt(hi) << 32n) | BigInt(lo));
    }
    const length = i % 3 === 2 ? wide.at(-1)[1] + 8 : TCP_INFO_KNOWN_LENGTH; // a shorter kernel's struct, ending with the last wide member
    const fresh = decodeTcpInfo(bytes, length);
    reused = decodeTcpInfo(bytes, length, reused ?? {});
    // Where the socket diagnostics decode it: in place, at an offset of a larger buffer (a multiple
    // of 4, as netlink aligns it; or not, then copied).
    const at = [4, 12, 1000, 6][i % 4];
    const datagram = new Uint8Array(2048);
    datagram.set(bytes.subarray(0, length), at);
    const inPlace = decodeTcpInfoIn(viewsOf(datagram), at, length);
    expect(inPlace).toEqual(fresh);
    for (const [name] of wide) {
      expect({ i, name, value: fresh[name] }).toEqual({ i, name, value: expected[name] });
      expect({ i, name, value: reused[name] }).toEqual({ i, name, value: expected[name] });
    }
  }
});
