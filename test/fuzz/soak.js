#!/usr/bin/env node
'use strict';
// A long run that samples memory as it goes, to tell a leak from a heap that grows to its working
// size and stays there:
//
//   node --expose-gc test/fuzz/soak.js [--calls 4000000] [--every 250000]
//
// The same mix as leak.js (set/get keepalive, raw Buffer set/get, every error path) plus the
// tuning and TCP_INFO calls, on real loopback sockets. Every `--every` calls it prints one JSON line
// with RSS and V8's heap as they are (no GC forced, as a server sees them); at the end, RSS after a
// forced GC. A leak keeps RSS rising line after line; a plateau levels off.
const net = require('node:net');
const knobs = require('../..');

const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const CALLS = arg('--calls', 4000000);
const EVERY = arg('--every', 250000);
const MiB = (bytes) => Math.round((bytes / 1048576) * 10) / 10;

async function main() {
  // The linger value set below resets connections when they close: the server's ends ignore that.
  const server = net.createServer((s) => s.on('error', () => {}));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect(server.address().port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  const dead = net.connect(server.address().port, '127.0.0.1');
  await new Promise((resolve) => dead.once('connect', resolve));
  dead.destroy();
  const linger = Buffer.alloc(8);
  linger.writeInt32LE(1, 0);
  const huge = 'k'.repeat(1 << 20);
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const tuner = knobs.createTuner({ keepAlive: { idle: 60, interval: 10, count: 3 }, userTimeout: 30000, noDelay: true });
  const kinds = [
    () => knobs.setKeepAlive(client, { enable: true, idle: 60, interval: 10, count: 3 }),
    () => knobs.getKeepAlive(client),
    () => knobs.setsockopt(client, 'SOL_SOCKET', 'SO_LINGER', linger),
    () => knobs.getsockopt(client, 'SOL_SOCKET', 'SO_LINGER', 8),
    () => knobs.tune(client, { keepAlive: { idle: 61 }, noDelay: true }),
    () => tuner.apply(client),
    () => knobs.getTuning(client),
    () => knobs.getTcpInfo(client),
    (i) => {
      try {
        switch (i & 3) {
          case 0: knobs.setKeepAlive(client, { idle: 'x' }); break;
          case 1: knobs.setsockopt(client, 'IPPROTO_TCP', 'TCP_KEEPCNT', 500); break;
          case 2: knobs.getKeepAlive(dead); break;
          default: knobs.getsockopt(client, 'IPPROTO_TCP', 'NO_SUCH_OPTION');
        }
      } catch (err) {
        if (!(err instanceof knobs.SocketOptionError)) throw err;
      }
    },
    // The adversarial inputs: a 1 MiB option name, a 1 MiB unknown key, a revoked Proxy.
    (i) => {
      try {
        switch (i % 3) {
          case 0: knobs.getsockopt(client, 'IPPROTO_TCP', huge); break;
          case 1: knobs.tune(client, { [huge]: 1 }); break;
          default: knobs.setKeepAlive(client, revoked.proxy);
        }
      } catch (err) {
        if (!(err instanceof knobs.SocketOptionError)) throw err;
      }
    },
  ];
  const started = Date.now();
  for (let i = 1; i <= CALLS; i++) {
    kinds[i % kinds.length](i);
    if (i % EVERY === 0) {
      const m = process.memoryUsage();
      console.log(JSON.stringify({ calls: i, rssMiB: MiB(m.rss), heapUsedMiB: MiB(m.heapUsed), heapTotalMiB: MiB(m.heapTotal), externalMiB: MiB(m.external), s: Math.round((Date.now() - started) / 100) / 10 }));
      // Yield now and then, as a server does, so that Node's own work (and GC tasks) can run.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  global.gc();
  global.gc();
  console.log(JSON.stringify({ done: CALLS, rssAfterGcMiB: MiB(process.memoryUsage().rss), node: process.version }));
  client.destroy();
  server.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
