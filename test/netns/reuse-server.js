'use strict';
// Listeners made with socket-knobs' listen() (options set before bind), in the server namespace.
//   timewait:  one listener, SO_REUSEADDR on or off (argument 3). It closes each connection first
//              (so its side goes to TIME_WAIT), then closes, and tries to bind the same port again
//              without and with SO_REUSEADDR.
//   reuseport: two listeners on one port with SO_REUSEPORT; each answers with its own index.
const { spawnSync } = require('node:child_process');
const net = require('node:net');
const knobs = require('../..');

const [mode, host, oldReuse] = process.argv.slice(2);
const emit = (message) => console.log(JSON.stringify(message));
setTimeout(() => process.exit(0), 60000).unref(); // bounded even if the harness forgets it

function tryBind(port, reuseAddress) {
  try {
    const fd = knobs.createListeningSocket({ port, host, reuseAddress });
    require('node:fs').closeSync(fd);
    return 'bound';
  } catch (err) {
    return err.code;
  }
}

async function timeWait() {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.end(); // this side closes first: it is the side that goes to TIME_WAIT
    socket.on('close', () =>
      server.close(() => {
        const ss = spawnSync('ss', ['-Htan', 'state', 'time-wait', `( sport = :${port} )`], { encoding: 'utf8' });
        const timeWait = ss.stdout.split('\n').filter(Boolean).length;
        emit({ timeWait, withoutReuseAddress: tryBind(port, false), withReuseAddress: tryBind(port, true) });
      }),
    );
  });
  await knobs.listen(server, { port: 0, host, reuseAddress: oldReuse === 'true' });
  const { port } = server.address();
  emit({ ready: port, reuseAddress: knobs.getReuseAddress(server) });
}

async function reusePort() {
  const servers = [0, 1].map((index) =>
    net.createServer((socket) => {
      socket.on('error', () => {});
      socket.end(String(index));
    }),
  );
  await knobs.listen(servers[0], { port: 0, host, reusePort: true });
  const { port } = servers[0].address();
  await knobs.listen(servers[1], { port, host, reusePort: true });
  emit({ ready: port, reusePort: servers.map((s) => knobs.getReusePort(s)) });
}

(mode === 'timewait' ? timeWait() : reusePort()).catch((err) => {
  console.error(err);
  process.exit(1);
});
