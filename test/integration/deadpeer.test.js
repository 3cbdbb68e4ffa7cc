'use strict';
// deadPeerTimeout (issue 26): one deadline that expands, before any syscall, into the keepalive
// timings and TCP_USER_TIMEOUT. Here: the expansion's bounds over every deadline (the arithmetic the
// kernel proofs in test/system/dead-peer.test.js rely on), its refusals, and that every API that
// takes a Tuning puts the expanded fields on real loopback sockets, also after Node resets them.
// The deadlines themselves are proved against the kernel between two namespaces (system tier).
const http = require('node:http');
const net = require('node:net');
const knobs = require('../..');
const { expandDeadPeer, DEAD_PEER_MIN_MS, DEAD_PEER_MAX_MS } = require('../../dist/modules/tuning/deadpeer.js');
const { closeAll, track, tcpPair, describeIf, emulated } = require('../helpers');

afterEach(closeAll);

const LINUX_KEEPALIVE_MAX = 32767;

/** Every deadline the kernel proofs do not reach: each 50 ms up to 5 minutes, then sampled to 20 hours. */
function deadlines() {
  const out = [];
  for (let d = DEAD_PEER_MIN_MS; d <= 300000; d += 50) out.push(d);
  for (let d = 300000; d <= DEAD_PEER_MAX_MS; d += 997003) out.push(d);
  out.push(DEAD_PEER_MAX_MS);
  return out;
}

test('the expansion keeps every deadline from 3 s to 20 h: idle worst case and busy worst case, with the timers slack, within it; every field within the kernel', () => {
  const broken = [];
  for (const d of deadlines()) {
    const { idle, interval, count, userTimeout } = expandDeadPeer(d);
    const intervalMs = interval * 1000;
    // Idle: aborted at the first keepalive tick at or after userTimeout since the last segment
    // received; a tick fires up to 1/8 of its interval late.
    const idleWorst = userTimeout + intervalMs + intervalMs / 8;
    // Busy: about 0.5 s after userTimeout from the first unacknowledged write; the last
    // retransmission timer up to 1/8 of the user timeout late.
    const busyWorst = userTimeout + 500 + userTimeout / 8;
    const fits =
      Number.isInteger(idle) &&
      Number.isInteger(interval) &&
      idle >= 1 &&
      interval >= 1 &&
      idle <= LINUX_KEEPALIVE_MAX &&
      interval <= LINUX_KEEPALIVE_MAX &&
      count === 3 &&
      Number.isInteger(userTimeout) &&
      userTimeout >= 1000 &&
      userTimeout <= 2 ** 31 - 1 &&
      idleWorst <= d &&
      busyWorst <= d &&
      // Never a user timeout shorter than the first keepalive probe: an idle connection is probed first.
      userTimeout > idle * 1000;
    if (!fits) broken.push({ d, idle, interval, count, userTimeout, idleWorst, busyWorst });
  }
  expect(broken.slice(0, 5)).toEqual([]);
  expect(deadlines().length).toBeGreaterThan(5900);
});

describe('refusals, each typed and before any syscall', () => {
  test.each([
    [{ deadPeerTimeout: 30 }, 'ERR_INVALID_ARG_VALUE', /30 ms is below the smallest deadline the kernel can honour \(3 s.*pass '30s'/],
    [{ deadPeerTimeout: '2s' }, 'ERR_OUT_OF_RANGE', />= 3000 && <= 72000000/],
    [{ deadPeerTimeout: '21h' }, 'ERR_OUT_OF_RANGE', />= 3000 && <= 72000000/],
    [{ deadPeerTimeout: '30 seconds' }, 'ERR_INVALID_ARG_VALUE', /deadPeerTimeout/],
    [{ deadPeerTimeout: 4500.5 }, 'ERR_OUT_OF_RANGE', /integer/],
    [
      { deadPeerTimeout: '30s', userTimeout: 1000 },
      'ERR_INVALID_ARG_VALUE',
      /'tuning.userTimeout' contradicts tuning.deadPeerTimeout: a deadline of 30000 ms sets it to 24250/,
    ],
    [{ deadPeerTimeout: '30s', keepAlive: { count: 9 } }, 'ERR_INVALID_ARG_VALUE', /'tuning.keepAlive.count' contradicts tuning.deadPeerTimeout/],
    [{ deadPeerTimeout: '30s', keepAlive: { enable: false } }, 'ERR_INVALID_ARG_VALUE', /'tuning.keepAlive.enable' contradicts/],
    [{ deadPeerTimeout: '30s', keepAlive: false }, 'ERR_INVALID_ARG_VALUE', /'tuning.keepAlive' is false, and tuning.deadPeerTimeout needs keepalive/],
  ])('%j: %s', async (tuning, code, message) => {
    const { client } = await tcpPair();
    const before = knobs.getTuning(client);
    expect(() => knobs.tune(client, tuning)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
    expect(knobs.getTuning(client)).toEqual(before); // nothing was set
  });

  test('the same fields given with the values the deadline sets are accepted (they say the same)', () => {
    const tuner = knobs.createTuner({ deadPeerTimeout: '30s', keepAlive: { idle: 14, interval: '4s', count: 3 }, userTimeout: '24250ms' });
    expect(tuner.tuning).toEqual({ deadPeerTimeout: 30000, keepAlive: { enable: true, idle: 14, interval: 4, count: 3 }, userTimeout: 24250 });
  });
});

describeIf(emulated('TCP_USER_TIMEOUT', 'TCP_KEEPIDLE'), 'every API that takes a Tuning sets the expansion', () => {
  const TUNING = { deadPeerTimeout: '12s' };
  const EXPANDED = { keepAlive: { enable: true, idle: 7, interval: 1, count: 3 }, userTimeout: 10000 };
  const holds = (socket) => expect(knobs.getTuning(socket)).toMatchObject(EXPANDED);

  test('tune, createTuner().apply, tuneOnConnect, dial', async () => {
    const { client, accepted } = await tcpPair();
    knobs.tune(client, TUNING);
    holds(client);
    knobs.createTuner(TUNING).apply(accepted);
    holds(accepted);
    const server = track(net.createServer((s) => track(s)).listen(0, '127.0.0.1'));
    await new Promise((resolve) => server.once('listening', resolve));
    const early = track(knobs.tuneOnConnect(net.connect(server.address().port, '127.0.0.1'), TUNING));
    await new Promise((resolve) => early.once('connect', resolve));
    holds(early);
    holds(track(await knobs.dial({ host: '127.0.0.1', port: server.address().port, tuning: TUNING })));
  });

  test("tuneServer on a keepAlive: true http server (Node's setKeepAlive resets the timings per connection), listen({ tuning }), tuneServers", async () => {
    let seen;
    const server = track(
      http.createServer({ keepAlive: true, keepAliveInitialDelay: 1000 }, (req, res) => {
        seen = knobs.getTuning(req.socket);
        res.end('ok');
      }),
    );
    await knobs.tuneServer(server.listen(0, '127.0.0.1'), TUNING).ready;
    await new Promise((resolve) => http.get({ port: server.address().port, host: '127.0.0.1', agent: false }, (res) => res.resume().on('end', resolve)));
    expect(seen).toMatchObject(EXPANDED);

    const listened = track(net.createServer((s) => track(s)));
    await knobs.listen(listened, { port: 0, host: '127.0.0.1', tuning: TUNING });
    const accepted = new Promise((resolve) => listened.once('connection', resolve));
    track(net.connect(listened.address().port, '127.0.0.1'));
    holds(await accepted);

    const all = knobs.tuneServers(TUNING);
    try {
      const other = track(net.createServer((s) => track(s)).listen(0, '127.0.0.1'));
      await new Promise((resolve) => other.once('listening', resolve));
      const next = new Promise((resolve) => other.once('connection', resolve));
      track(net.connect(other.address().port, '127.0.0.1'));
      holds(await next);
    } finally {
      all.stop();
    }
  });

  test('tuneAgent and tuneConnector: the sockets of real requests', async () => {
    const server = track(http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.1'));
    await new Promise((resolve) => server.once('listening', resolve));
    const agent = knobs.tuneAgent(new http.Agent({ keepAlive: true }), TUNING);
    const socket = await new Promise((resolve) =>
      http.get({ port: server.address().port, host: '127.0.0.1', agent }, (res) => {
        res.resume();
        resolve(res.socket);
      }),
    );
    holds(socket);
    agent.destroy();
    const connect = knobs.tuneConnector((options, callback) => {
      const s = net.connect(options.port, options.host, () => callback(null, s));
      return s;
    }, TUNING);
    const viaConnector = await new Promise((resolve, reject) =>
      connect({ host: '127.0.0.1', port: server.address().port }, (err, s) => (err ? reject(err) : resolve(track(s)))),
    );
    holds(viaConnector);
  });

  test('observe() compares the expanded fields: a reset by setKeepAlive is drift, named by its paths', async () => {
    const { client } = await tcpPair();
    knobs.tune(client, TUNING);
    const { driftOf, getTuning } = require('../../dist/modules/tuning/readback.js');
    const { compileTuning } = require('../../dist/modules/tuning/tuning.js');
    const plan = compileTuning(TUNING);
    expect(driftOf(plan, getTuning(client))).toEqual([]);
    client.setKeepAlive(true, 60000); // Node: idle 60 s, interval 1 s, count 10
    expect(driftOf(plan, getTuning(client)).sort()).toEqual(['keepAlive.count', 'keepAlive.idle']);
  });
});
