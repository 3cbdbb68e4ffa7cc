'use strict';
// Long-lived servers: no leaks over a million calls, fd lifetime (never cached, never written
// through a stale socket), threads at once, and errors that are safe to log.
const { spawnSync } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const util = require('node:util');
const { Worker } = require('node:worker_threads');
const knobs = require('../..');
const { tcpPair, closeAll, thrown, udpSocket, unixServer, testIf } = require('../helpers');

afterEach(closeAll);

// Under npm run test:asan, ASan's quarantine holds freed memory on purpose, so RSS says nothing
// there; LeakSanitizer checks leaks in that run instead.
const underAsan = /libasan/.test(process.env.LD_PRELOAD || '') ? 'under AddressSanitizer (its quarantine grows RSS); LeakSanitizer covers leaks' : null;
// Under qemu-user (npm run test:arm64) the emulated /proc reports an RSS of 0: nothing to measure.
const noRss = process.memoryUsage().rss === 0 ? 'this process cannot read its RSS (qemu-user reports 0)' : null;

testIf(
  underAsan || noRss,
  'a million calls (keepalive set/get, raw Buffer set/get, every error path) keep RSS and the fd count flat',
  () => {
    // The young generation is pinned to 1 MiB: V8 otherwise grows it (up to 16 MiB of RSS) when a
    // call mix allocates briskly, which is heap sizing, not a leak (heapUsed stays flat either way).
    const run = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=1', path.join(__dirname, '..', 'fuzz', 'leak.js'), '1000000'], {
      encoding: 'utf8',
      timeout: 120000,
    });
    expect(run.stderr).toBe('');
    const { calls, before, after } = JSON.parse(run.stdout);
    const growthKiB = (after.rss - before.rss) / 1024;
    console.log(`${calls} calls: RSS ${(before.rss / 1048576).toFixed(1)} MiB -> ${(after.rss / 1048576).toFixed(1)} MiB, fds ${before.fds} -> ${after.fds}`);
    expect(calls).toBe(1000000);
    expect(before.rss).toBeGreaterThan(0);
    expect(after.fds).toBe(before.fds);
    // A leak of even 8 bytes a call would add 7 MiB here; V8's own heap moves by far less after GC.
    expect(growthKiB).toBeLessThan(4096);
  },
  120000,
);

describe('fd lifetime', () => {
  test('a destroyed socket cannot reach the fd number a new socket now holds', async () => {
    const { client, server } = await tcpPair();
    const oldFd = client._handle.fd;
    client.destroy();
    // Open sockets until one gets the old number back (the kernel hands out the lowest free fd).
    // Both ends of each new connection live in this process, and the server's end of the destroyed
    // client closes on its own time, so the old number may go to a connecting client or to the
    // server's accepted end, whichever asks first: both are watched.
    const fresh = [];
    const onConnection = (s) => fresh.push(s);
    server.on('connection', onConnection);
    const holder = () => fresh.find((s) => s._handle && s._handle.fd === oldFd) ?? null;
    let recycled = null;
    for (let i = 0; i < 50 && !recycled; i++) {
      const s = net.connect(server.address().port, '127.0.0.1');
      fresh.push(s);
      await new Promise((resolve) => s.once('connect', resolve));
      await new Promise((resolve) => setImmediate(resolve)); // let the server accept its end
      recycled = holder();
    }
    server.removeListener('connection', onConnection);
    try {
      expect(recycled).not.toBeNull();
      const before = knobs.getKeepAlive(recycled);
      const err = thrown(() => knobs.setKeepAlive(client, { idle: 999, interval: 99, count: 9 }));
      expect(err).toBeInstanceOf(knobs.SocketStateError);
      expect(err.code).toBe('ERR_SOCKET_CLOSED');
      expect(knobs.getKeepAlive(recycled)).toEqual(before);
    } finally {
      for (const s of fresh) s.destroy();
    }
  });

  test('the fd is looked up at every call: a socket destroyed between two calls gives SocketStateError', async () => {
    const { client } = await tcpPair();
    knobs.setKeepAlive(client, { idle: 10 });
    client.destroy();
    expect(thrown(() => knobs.setKeepAlive(client, { idle: 11 })).code).toBe('ERR_SOCKET_CLOSED');
  });

  test('worker threads and the main thread, at the same time, each read back exactly what they set', async () => {
    const root = path.join(__dirname, '..', '..');
    const body = `
      const knobs = require(${JSON.stringify(root)});
      const net = require('net');
      const { parentPort, workerData } = require('worker_threads');
      const server = net.createServer(() => {}).listen(0, '127.0.0.1', () => {
        const c = net.connect(server.address().port, '127.0.0.1', () => {
          let mismatches = 0;
          for (let i = 0; i < 20000; i++) {
            const idle = workerData.base + (i % 100);
            knobs.setKeepAlive(c, { idle, interval: workerData.base % 50 + 1, count: 3 });
            const got = knobs.getKeepAlive(c);
            if (got.idle !== idle || got.interval !== workerData.base % 50 + 1) mismatches++;
          }
          c.destroy(); server.close();
          parentPort.postMessage(mismatches);
        });
      });`;
    const workers = [1000, 2000, 3000].map(
      (base) =>
        new Promise((resolve, reject) => {
          const worker = new Worker(body, { eval: true, workerData: { base } });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    );
    const { client } = await tcpPair();
    let mainMismatches = 0;
    for (let i = 0; i < 20000; i++) {
      knobs.setKeepAlive(client, { idle: 5000 + (i % 100), interval: 7, count: 4 });
      const got = knobs.getKeepAlive(client);
      if (got.idle !== 5000 + (i % 100) || got.interval !== 7) mainMismatches++;
    }
    expect(mainMismatches).toBe(0);
    expect(await Promise.all(workers)).toEqual([0, 0, 0]);
  }, 60000);
});

describe('errors are safe to log and serialize', () => {
  async function oneOfEach() {
    const { client } = await tcpPair();
    const udp = await udpSocket();
    const unix = await unixServer();
    const destroyed = (await tcpPair()).client;
    destroyed.destroy();
    return [
      thrown(() => knobs.setKeepAlive(client, { idle: 'x'.repeat(1e6) })),
      thrown(() => knobs.setKeepAlive(client, { count: 10 ** 300 })),
      thrown(() => knobs.setsockopt(client, 'IPPROTO_TCP', 'NOPE', 1)),
      thrown(() => knobs.setsockopt(client, 'SOL_SOCKET', 'SO_LINGER', Buffer.alloc(65536, 0xab).subarray(0, 3))),
      thrown(() => knobs.setKeepAlive(udp, { idle: 5 })),
      thrown(() => knobs.setNoDelay(unix, true)),
      thrown(() => knobs.getKeepAlive(destroyed)),
      thrown(() =>
        knobs.setKeepAlive(
          client,
          new Proxy(
            {},
            {
              ownKeys() {
                throw new Error('trap');
              },
            },
          ),
        ),
      ),
    ];
  }

  test('every kind stringifies, inspects and serializes without cycles, and stays small', async () => {
    for (const err of await oneOfEach()) {
      expect(err).toBeInstanceOf(knobs.SocketOptionError);
      const json = JSON.stringify(err);
      expect(JSON.parse(json)).toMatchObject({ name: err.name, code: err.code, message: err.message });
      expect(json.length).toBeLessThan(1000);
      expect(util.inspect(err).length).toBeLessThan(4000);
      expect(String(err)).toBe(`${err.name} [${err.code}]: ${err.message}`);
      // Only strings, numbers and arrays of strings: nothing that holds a socket alive.
      for (const [key, v] of Object.entries(err)) {
        expect([key, ['string', 'number'].includes(typeof v) || (Array.isArray(v) && v.every((x) => typeof x === 'string'))]).toEqual([key, true]);
      }
    }
  });
});
