'use strict';
// A million calls (set/get keepalive, raw Buffer set/get, and every error path) on real sockets,
// printing RSS and the open fd count after a warm-up and at the end, both after a forced GC.
// Run with --expose-gc. Output: one JSON line.
const fs = require('node:fs');
const net = require('node:net');
const knobs = require('../..');

const TOTAL = Number(process.argv[2] || 1000000);

function sample() {
  global.gc();
  global.gc();
  return { rss: process.memoryUsage().rss, fds: fs.readdirSync('/proc/self/fd').length };
}

async function main() {
  const server = net.createServer(() => {});
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect(server.address().port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  const dead = net.connect(server.address().port, '127.0.0.1');
  await new Promise((resolve) => dead.once('connect', resolve));
  dead.destroy();
  const linger = Buffer.alloc(8);
  linger.writeInt32LE(1, 0);
  linger.writeInt32LE(5, 4);

  const kinds = [
    () => knobs.setKeepAlive(client, { enable: true, idle: 60, interval: 10, count: 3 }),
    () => knobs.getKeepAlive(client),
    () => knobs.setsockopt(client, 'SOL_SOCKET', 'SO_LINGER', linger),
    () => knobs.getsockopt(client, 'SOL_SOCKET', 'SO_LINGER', 8),
    // Error paths, in turn: invalid argument, kernel refusal, destroyed socket, unsupported name.
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
  ];
  const perKind = Math.floor(TOTAL / kinds.length);
  const warmup = Math.floor(perKind / 10);
  for (const kind of kinds) for (let i = 0; i < warmup; i++) kind(i);
  const before = sample();
  for (const kind of kinds) for (let i = warmup; i < perKind; i++) kind(i);
  const after = sample();
  client.destroy();
  server.close();
  console.log(JSON.stringify({ calls: perKind * kinds.length, before, after }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
