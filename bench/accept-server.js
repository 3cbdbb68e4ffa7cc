'use strict';
// Three loopback listeners in one process: `tuned` applies what a Linux-tuned server applies to
// each accepted connection (keepalive timing and a send deadline), `inherited` has the same tuning
// set once on its listener (accepted sockets inherit it on Linux), `plain` applies nothing. All
// answer one byte and close. Prints {"tuned": port, "inherited": port, "plain": port}.
const net = require('node:net');
const knobs = require('..');

const handlers = {
  tuned: (socket) => {
    knobs.setKeepAlive(socket, { idle: 60, interval: 10, count: 3 });
    knobs.setUserTimeout(socket, 30000);
    socket.on('error', () => {});
    socket.end('x');
  },
  inherited: (socket) => {
    socket.on('error', () => {});
    socket.end('x');
  },
  plain: (socket) => {
    socket.on('error', () => {});
    socket.end('x');
  },
};

const ports = {};
let pending = 3;
for (const [kind, handler] of Object.entries(handlers)) {
  const server = net.createServer(handler);
  server.listen(0, '127.0.0.1', 1024, () => {
    if (kind === 'inherited') knobs.tune(server, { keepAlive: { idle: 60, interval: 10, count: 3 }, userTimeout: 30000 });
    ports[kind] = server.address().port;
    if (--pending === 0) console.log(JSON.stringify(ports));
  });
}
