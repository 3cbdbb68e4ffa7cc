'use strict';
// Opens `count` connections (at most `parallel` at a time), reads each reply to its end, and
// reports how many replies carried each text: which listener served the connection.
const net = require('node:net');

const [host, port, count, parallel] = process.argv.slice(2);

function once() {
  return new Promise((resolve) => {
    let reply = '';
    const socket = net.connect(Number(port), host);
    socket.setEncoding('utf8');
    socket.on('data', (d) => (reply += d));
    socket.on('close', () => resolve(reply));
    socket.on('error', (err) => resolve(`error:${err.code}`));
    socket.setTimeout(5000, () => socket.destroy());
  });
}

async function main() {
  const tally = {};
  let started = 0;
  const worker = async () => {
    while (started < Number(count)) {
      started++;
      const reply = await once();
      tally[reply] = (tally[reply] || 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Number(parallel) }, worker));
  console.log(JSON.stringify({ tally }));
}

main();
