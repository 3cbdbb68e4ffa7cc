'use strict';
// Issue 24 §2.3-§2.7: the invariants of how socket-knobs holds on to Node's objects, each against
// real servers and the kernel:
// - accept queue: every socket accepted after `ready` carries the tuning (read back), also those whose
//   handshake completed before the listener was tuned;
// - precedence: an explicit tuneServer() wins over tuneServers() in either order and replaces it
//   whole; every `ready` settles (listen failure, stop() first, replaced, closed);
// - nothing retained: closed sockets of an observed agent, closed servers of tuneServers() are collected;
// - fd identity: observe() never reports one connection's kernel socket under another's;
// - wrappers compose: letting go of a hook never removes anyone else's wrapper.
const { spawn, spawnSync, fork } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const knobs = require('../..');
const { closeAll, emulated, track, waitFor } = require('../helpers');

afterEach(closeAll);

const TUNING = { keepAlive: { idle: 61, interval: 11, count: 4 }, userTimeout: 45000 };
const HOLDS = (t) => t.keepAlive.idle === 61 && t.keepAlive.interval === 11 && t.keepAlive.count === 4 && t.userTimeout === 45000;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Blocks the event loop (synchronous start-up work, as a real application's) until the listener's
 * accept queue holds `n` connections (TCP_INFO's unacked on a listener), or `ms` pass: the kernel
 * completes the handshakes meanwhile, nothing is accepted. Under qemu-user (4 bytes of TCP_INFO)
 * it blocks for `ms` alone.
 */
function busyUntilQueued(server, n, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    let queued;
    try {
      queued = knobs.getTcpInfo(server).unacked;
    } catch {
      queued = undefined;
    }
    if (queued !== undefined && queued >= n) return;
  }
}

/** A child process that connects `n` clients as soon as `port` accepts; resolves once it runs. */
async function burst(port, n) {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'fixtures', 'connect-burst.js'), String(port), String(n)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  track({ destroy: () => child.kill() });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await waitFor(() => out.includes('ready'), { what: 'the client process to start' });
  // It is retrying against a closed port now; give it a moment to be in its loop.
  await new Promise((r) => setTimeout(r, 50));
  return { child, done: () => out.includes(`done ${n}`) };
}

describe('the accept queue (§2.3): every socket accepted after ready carries the tuning', () => {
  const N = 20;

  test(`tuneServer before listen(), then synchronous start-up work until the clients are queued: ${N} of ${N} accepted sockets read back the tuning`, async () => {
    const port = await freePort();
    const clients = await burst(port, N);
    const seen = [];
    const server = track(net.createServer((s) => track(s)));
    server.prependListener('connection', (s) => seen.push(knobs.getTuning(s)));
    const tuner = knobs.tuneServer(server, TUNING);
    server.listen(port); // no host: listen(2) inside this call
    busyUntilQueued(server, N, 5000); // the kernel completes the handshakes meanwhile: they queue
    const mode = await tuner.ready;
    expect(mode.mode).toBe('listener');
    await waitFor(() => seen.length === N && clients.done(), { ms: 15000, what: `${N} connections` });
    expect(seen.filter(HOLDS).length).toBe(N);
  }, 30000);

  test(`tuneServer after listen() and start-up work until the clients are queued: queuedAtTuning counts the early ones, and all ${N} read back the tuning`, async () => {
    const port = await freePort();
    const clients = await burst(port, N);
    const seen = [];
    const server = track(net.createServer((s) => track(s)));
    server.prependListener('connection', (s) => seen.push(knobs.getTuning(s)));
    server.listen(port);
    busyUntilQueued(server, N, 5000);
    const tuner = knobs.tuneServer(server, TUNING);
    const mode = await tuner.ready;
    expect(mode.mode).toBe('listener');
    // The count comes from the listener's TCP_INFO (qemu-user copies only its first 4 bytes: 0 there).
    if (!emulated('TCP_INFO')) expect(mode.queuedAtTuning).toBeGreaterThan(0);
    await waitFor(() => seen.length === N && clients.done(), { ms: 15000, what: `${N} connections` });
    // The sweep is a prepended 'connection' listener registered after the test's: it runs first, so
    // what the test reads back is what the application's handlers see.
    expect(seen.filter(HOLDS).length).toBe(N);
  }, 30000);
});

describe('precedence and settling (§2.4)', () => {
  test('an explicit tuneServer() made before listen() wins over tuneServers(); tuneServers does not take that server', async () => {
    const all = knobs.tuneServers({ keepAlive: { idle: 99 } });
    const tuned = [];
    all.on('tuned', (server) => tuned.push(server));
    const server = track(net.createServer((s) => track(s)));
    const explicit = knobs.tuneServer(server, TUNING);
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    await expect(explicit.ready).resolves.toMatchObject({ mode: 'listener' });
    const accepted = new Promise((resolve) => server.once('connection', resolve));
    track(net.connect(server.address().port, '127.0.0.1'));
    expect(HOLDS(knobs.getTuning(await accepted))).toBe(true);
    expect(tuned).not.toContain(server);
    all.stop();
  });

  test('tuneServers() first, then tuneServer(): the explicit tuning replaces it whole (a field only tuneServers set is put back)', async () => {
    const all = knobs.tuneServers({ keepAlive: { idle: 99 }, userTimeout: 7000, noDelay: true });
    const server = track(net.createServer((s) => track(s)));
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    expect(knobs.getTuning(server)).toMatchObject({ userTimeout: 7000, keepAlive: { idle: 99 }, noDelay: true });
    const explicit = knobs.tuneServer(server, { keepAlive: { idle: 61 } });
    await explicit.ready;
    // On the listener: the explicit field, and what tuneServers set and the explicit tuning does not name is back to before.
    expect(knobs.getTuning(server)).toMatchObject({ userTimeout: 0, keepAlive: { enable: true, idle: 61 }, noDelay: false });
    const accepted = new Promise((resolve) => server.once('connection', resolve));
    track(net.connect(server.address().port, '127.0.0.1'));
    expect(knobs.getTuning(await accepted)).toMatchObject({ userTimeout: 0, keepAlive: { idle: 61 } });
    all.stop();
  });

  test('every ready settles, typed: listen() fails (EADDRINUSE), stop() first, replaced first, closed first', async () => {
    const busyServer = track(net.createServer());
    await new Promise((r) => busyServer.listen(0, '127.0.0.1', r));
    const failing = track(net.createServer());
    failing.on('error', () => {});
    const onFailing = knobs.tuneServer(failing, TUNING);
    failing.listen(busyServer.address().port, '127.0.0.1');
    await expect(onFailing.ready).rejects.toMatchObject({ code: 'EADDRINUSE', syscall: 'listen' });

    const stopped = knobs.tuneServer(track(net.createServer()), TUNING);
    stopped.stop();
    await expect(stopped.ready).rejects.toMatchObject({ code: 'ERR_SOCKET_KNOBS_STOPPED' });

    const server = track(net.createServer());
    const first = knobs.tuneServer(server, TUNING);
    const second = knobs.tuneServer(server, { noDelay: true });
    await expect(first.ready).rejects.toMatchObject({ code: 'ERR_SOCKET_KNOBS_REPLACED' });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    await expect(second.ready).resolves.toMatchObject({ mode: 'listener' });

    const closing = net.createServer();
    const onClosing = knobs.tuneServer(closing, TUNING);
    closing.close(() => {});
    await expect(onClosing.ready).rejects.toMatchObject({ code: 'ERR_SOCKET_CLOSED' });
  });
});

test('nothing retained (§2.5): 200 closed sockets of an observed agent and 40 closed servers of tuneServers() are all collected', () => {
  const run = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, '..', 'fixtures', 'retention.js'), '200', '40'], {
    encoding: 'utf8',
    timeout: 60000,
  });
  const out = JSON.parse(run.stdout.trim().split('\n').pop());
  expect(out.alive).toEqual({ sockets: 0, servers: 0 });
  expect(out.observing).toBe(0);
}, 60000);

test('fd identity (§2.6): a socket handed to a child process leaves observe(); the next connection on its fd number is observed as itself', async () => {
  const server = track(net.createServer((s) => track(s)));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const samples = [];
  const observer = knobs.observe(server, { interval: 20, onSample: (s) => samples.push(s) });
  const child = fork(path.join(__dirname, '..', 'fixtures', 'hold-socket.js'), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  track({ destroy: () => child.kill() });
  const first = new Promise((resolve) => server.once('connection', resolve));
  const c1 = track(net.connect(server.address().port, '127.0.0.1'));
  const s1 = await first;
  const fd1 = s1._handle.fd;
  await waitFor(() => samples.some((x) => x.socket === s1));
  await new Promise((resolve) => child.send('socket', s1, resolve));
  await new Promise((resolve) => child.once('message', resolve)); // the child holds it
  const handedAt = samples.length;
  // Node closes the parent's copy once the child acknowledged it.
  await waitFor(() => !require('node:fs').existsSync(`/proc/self/fd/${fd1}`), { what: `fd ${fd1} to be closed here` });
  // The next accepted socket takes the lowest free number: fd1, unless another test's fd closed
  // meanwhile and left a lower hole, which the next connections fill first.
  let s2;
  for (let i = 0; i < 10 && !(s2 && s2._handle.fd === fd1); i++) {
    const next = new Promise((resolve) => server.once('connection', resolve));
    child.send({ connect: server.address().port });
    s2 = await next;
  }
  expect(s2._handle.fd).toBe(fd1); // the number was reused: the case that mixed connections
  await waitFor(() => samples.slice(handedAt).some((x) => x.socket === s2), { what: 'a sample of the new connection' });
  await new Promise((r) => setTimeout(r, 100));
  // No sample after the hand-off is attributed to the handed-off socket.
  expect(samples.slice(handedAt).filter((x) => x.socket === s1 && !x.final)).toEqual([]);
  expect(observer.connections).toBeGreaterThanOrEqual(1);
  observer.stop();
  c1.destroy();
});

describe('wrappers compose (§2.7)', () => {
  test("stopping one observer leaves another copy's final sample, and an APM library's _destroy wrapper made after it, in place", async () => {
    // A second copy of the package (its own module instance, its own registry symbol), as when two
    // libraries each bundle socket-knobs.
    let other;
    jest.isolateModules(() => {
      other = require('../..');
    });
    expect(other).not.toBe(knobs);
    const server = track(net.createServer((s) => track(s)));
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise((resolve) => server.once('connection', resolve));
    const client = track(net.connect(server.address().port, '127.0.0.1'));
    await new Promise((r) => client.once('connect', r));
    const socket = await accepted;
    const a = [];
    const b = [];
    const oa = knobs.observe(socket, { interval: 60000, onSample: (s) => a.push(s) });
    const ob = other.observe(socket, { interval: 60000, onSample: (s) => b.push(s) });
    // An APM library wraps _destroy after both.
    let apmCalls = 0;
    const inner = socket._destroy;
    socket._destroy = function apmDestroy(err, cb) {
      apmCalls++;
      return inner.call(this, err, cb);
    };
    oa.stop();
    socket.destroy();
    await new Promise((r) => setTimeout(r, 20));
    expect(apmCalls).toBe(1);
    expect(b.filter((s) => s.final)).toHaveLength(1);
    expect(a).toEqual([]);
    ob.stop();
  });
});
