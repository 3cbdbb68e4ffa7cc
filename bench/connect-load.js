'use strict';
// Load generator: `count` connections to 127.0.0.1:`port`, `parallel` at a time, each waiting for
// the server's byte and the close. Prints {"perSecond": N}.
const net = require('node:net');

const [port, count, parallel] = process.argv.slice(2).map(Number);

function once() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('data', () => {});
    socket.on('close', resolve);
    socket.on('error', reject);
  });
}

async function main() {
  let started = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (started < count) {
        started++;
        await once();
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ perSecond: count / seconds }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
