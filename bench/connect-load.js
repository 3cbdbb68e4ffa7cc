'use strict';
// Load generator: `count` connections to 127.0.0.1:`port`, `parallel` at a time, each waiting for
// the server's byte and the close. Prints {"perSecond": N}. With a fourth argument `dial`, each
// connection is made by socket-knobs' dial() (synRetries and a receive buffer set before connect)
// instead of net.connect().
const net = require('node:net');

const [port, count, parallel] = process.argv.slice(2, 5).map(Number);
const viaDial = process.argv[5] === 'dial';
const knobs = viaDial ? require('../') : null;

async function open() {
  if (!viaDial) return net.connect(port, '127.0.0.1');
  return knobs.dial({ host: '127.0.0.1', port, synRetries: 2, tuning: { receiveBufferSize: 65536 } });
}

function once() {
  return new Promise((resolve, reject) => {
    open().then((socket) => {
      socket.on('data', () => {});
      socket.on('close', resolve);
      socket.on('error', reject);
    }, reject);
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
