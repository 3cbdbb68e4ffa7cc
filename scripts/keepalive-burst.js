#!/usr/bin/env node
'use strict';
// `node scripts/keepalive-burst.js [N] [idle] [interval] [count] [userTimeout] [seconds]` (Linux):
// N loopback connections to a server of this process, made at once and tuned alike (keepalive
// idle/interval/count in seconds, a user timeout in ms, 0 for none), then left idle for `seconds`.
// Their keepalive timers fire together, so each round of probes is a burst of N segments (and N
// answers) into the loopback's per-CPU backlog, which holds net.core.netdev_max_backlog packets.
// Prints how many connections the kernel reset (ETIMEDOUT) although their peer, in this very
// process, was there all the while, with the backlog's size. Needs 2N + a few open files.
// Defaults: 5000 5 2 3 9000 20 (docs/guides/linux-knobs.md quotes its runs).
const fs = require('node:fs');
const net = require('node:net');
const knobs = require('..');

const [N, idle, interval, count, userTimeout, seconds] = [5000, 5, 2, 3, 9000, 20].map((d, i) => Number(process.argv[2 + i] ?? d));
const errors = {};
const all = [];
let open = 0;

const server = net.createServer((socket) => all.push(socket.on('error', () => {})));
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  for (let i = 0; i < N; i++) {
    const client = net.connect(server.address().port, '127.0.0.1', () => {
      knobs.tune(client, { keepAlive: { idle, interval, count }, userTimeout });
      open++;
    });
    client.on('error', (err) => (errors[err.code] = (errors[err.code] ?? 0) + 1));
    all.push(client);
  }
});

setTimeout(() => {
  const backlog = Number(fs.readFileSync('/proc/sys/net/core/netdev_max_backlog', 'utf8'));
  console.log(JSON.stringify({ connections: N, open, keepAlive: { idle, interval, count }, userTimeout, seconds, reset: errors, netdev_max_backlog: backlog }));
  process.exit(0);
}, seconds * 1000);
