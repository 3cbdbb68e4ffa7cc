'use strict';
// The client (runs in the client namespace): one connection per scenario, tuned with socket-knobs
// (or left at the kernel defaults), a round trip to show the path works, then, on "cut" from the
// harness, it watches which connections the kernel kills and when.
//   keepalive:        setKeepAlive({ idle: 1, interval: 1, count: 2 }); stays idle
//   defaults-idle:    no options; stays idle
//   user-timeout:     setUserTimeout(2000); writes after the cut (data in flight)
//   defaults-writing: no options; writes after the cut
const net = require('node:net');
const readline = require('node:readline');
const knobs = require('../..');

const [host, port, scenarioList, watchMs] = process.argv.slice(2);
const scenarios = scenarioList.split(',');
const emit = (message) => console.log(JSON.stringify(message));

function tune(name, socket) {
  if (name === 'keepalive') knobs.setKeepAlive(socket, { idle: 1, interval: 1, count: 2 });
  if (name === 'user-timeout') knobs.setUserTimeout(socket, 2000);
  return { keepAlive: knobs.getKeepAlive(socket), userTimeout: knobs.getUserTimeout(socket) };
}

function open(name) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), host, () => {
      const readBack = tune(name, socket);
      socket.write('hello');
      socket.once('data', () => {
        // The healthy connection as the kernel sees it, after one round trip.
        const info = knobs.getTcpInfo(socket);
        readBack.tcpInfo = { state: info.state, bytesAcked: info.bytesAcked, bytesReceived: info.bytesReceived, rtt: info.rtt };
        const conn = { name, socket, readBack, localPort: socket.localPort, lastDataAt: Date.now(), event: null, samples: [] };
        socket.on('error', (err) => (conn.event ??= { error: err.code, at: Date.now() }));
        socket.on('close', () => (conn.event ??= { error: null, closed: true, at: Date.now() }));
        resolve(conn);
      });
    });
    socket.once('error', reject);
  });
}

async function main() {
  const conns = [];
  for (const name of scenarios) conns.push(await open(name));
  emit({ ready: conns.map(({ name, readBack, localPort }) => ({ name, readBack, localPort })) });

  const input = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => input.once('line', resolve));
  const cutAt = Date.now();
  for (const conn of conns) if (conn.name.endsWith('writing') || conn.name === 'user-timeout') conn.socket.write(Buffer.alloc(1000, 1));
  // Bounded watch over the window; every 100 ms, TCP_INFO of each connection still open: the
  // kernel's own count of unanswered probes and retransmissions.
  const sampler = setInterval(() => {
    for (const c of conns) {
      if (c.event || c.socket.destroyed) continue;
      try {
        const { probes, backoff, retransmits, totalRetrans, state } = knobs.getTcpInfo(c.socket);
        c.samples.push({ at: Date.now() - cutAt, probes, backoff, retransmits, totalRetrans, state });
      } catch {
        // closed between the check and the call
      }
    }
  }, 100);
  await new Promise((resolve) => setTimeout(resolve, Number(watchMs)));
  clearInterval(sampler);
  emit({
    cutAt,
    results: conns.map((c) => ({
      name: c.name,
      localPort: c.localPort,
      lastDataAt: c.lastDataAt,
      error: c.event ? c.event.error : null,
      alive: c.event === null,
      diedAt: c.event ? c.event.at : null,
      samples: c.samples,
    })),
  });
  for (const c of conns) c.socket.destroy();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
