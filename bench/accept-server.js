'use strict';
// Loopback listeners in one process, each answering one byte and closing:
//   plain             applies nothing
//   handler           tunes each accepted socket in its handler (setKeepAlive + setUserTimeout)
//   listener          tuneServer(): the listener tuned once, accepted sockets inherit it
//   per-connection    tuneServer() on a server made with keepAlive (as net.createServer({ keepAlive:
//                     true, keepAliveInitialDelay }) is): the keepalive fields set on each socket
// Prints { kind: port, ... }.
const net = require('node:net');
const knobs = require('..');

const TUNING = { keepAlive: { idle: 60, interval: 10, count: 3 }, userTimeout: 30000 };
const answer = (socket) => {
  socket.on('error', () => {});
  socket.end('x');
};
const servers = {
  plain: net.createServer(answer),
  handler: net.createServer((socket) => {
    knobs.setKeepAlive(socket, TUNING.keepAlive);
    knobs.setUserTimeout(socket, TUNING.userTimeout);
    answer(socket);
  }),
  listener: net.createServer(answer),
  'per-connection': net.createServer({ keepAlive: true, keepAliveInitialDelay: 5000 }, answer),
};
knobs.tuneServer(servers.listener, TUNING);
knobs.tuneServer(servers['per-connection'], TUNING);

const ports = {};
let pending = Object.keys(servers).length;
for (const [kind, server] of Object.entries(servers)) {
  server.listen(0, '127.0.0.1', 1024, () => {
    ports[kind] = server.address().port;
    if (--pending === 0) console.log(JSON.stringify(ports));
  });
}
