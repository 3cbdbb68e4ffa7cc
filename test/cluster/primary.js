'use strict';
// A cluster primary with two workers, each calling knobs.listen() itself (test/cluster.test.js).
//   node test/cluster/primary.js reuse   : both workers listen with reusePort; 200 connections
//   node test/cluster/primary.js exclusive : no reusePort; the second worker must get EADDRINUSE
// The primary also holds a private server of its own: no worker may ever answer on it. Prints one
// JSON line with what it saw, then exits; every process ends within the timeout.
const cluster = require('node:cluster');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const knobs = require(path.join(__dirname, '..', '..'));

const mode = process.argv[2];
const reusePort = mode === 'reuse';
const TUNING = { keepAlive: { idle: 61, interval: 11, count: 4 }, userTimeout: 45000 };

if (cluster.isWorker) {
  const openFds = () => fs.readdirSync('/proc/self/fd').length;
  process.on('message', async (message) => {
    if (message.cmd !== 'listen') return;
    const server = net.createServer((socket) => {
      socket.end(JSON.stringify({ pid: process.pid, tuning: knobs.getTuning(socket) }));
    });
    const before = openFds();
    try {
      await knobs.listen(server, { port: message.port, host: '127.0.0.1', reusePort });
      knobs.tune(server, TUNING);
      process.send({ cmd: 'listening', port: server.address().port });
    } catch (err) {
      process.send({ cmd: 'failed', name: err.name, code: err.code, syscall: err.syscall, fdsBefore: before, fdsAfter: openFds() });
    }
  });
} else {
  const timer = setTimeout(() => {
    console.log(JSON.stringify({ error: 'timed out' }));
    process.exit(1);
  }, 30000);
  const request = (port) =>
    new Promise((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1');
      let data = '';
      c.on('data', (d) => (data += d)).on('end', () => resolve(data)).on('error', reject);
    });
  const next = (worker) => new Promise((resolve) => worker.once('message', resolve));
  (async () => {
    const own = net.createServer((socket) => socket.end(JSON.stringify({ pid: 'primary' })));
    await new Promise((resolve) => own.listen(0, '127.0.0.1', resolve));
    const workers = [cluster.fork(), cluster.fork()];
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('online', resolve))));
    workers[0].send({ cmd: 'listen', port: 0 });
    const first = await next(workers[0]);
    if (first.cmd !== 'listening') throw new Error(`first worker: ${JSON.stringify(first)}`);
    workers[1].send({ cmd: 'listen', port: first.port });
    const second = await next(workers[1]);
    const result = { first, second, served: {}, primaryPort: null, tuningsSeen: [] };
    for (let i = 0; i < 200; i++) {
      const reply = JSON.parse(await request(first.port));
      const who = reply.pid === workers[0].process.pid ? 'worker1' : reply.pid === workers[1].process.pid ? 'worker2' : String(reply.pid);
      result.served[who] = (result.served[who] || 0) + 1;
      if (i < 4) result.tuningsSeen.push(reply.tuning);
    }
    // The primary's own port is answered by the primary, never by a worker.
    const ownReplies = [];
    for (let i = 0; i < 20; i++) ownReplies.push(JSON.parse(await request(own.address().port)).pid);
    result.primaryPort = [...new Set(ownReplies)];
    for (const w of workers) w.kill();
    own.close();
    clearTimeout(timer);
    console.log(JSON.stringify(result));
  })().catch((err) => {
    console.log(JSON.stringify({ error: String(err && err.stack) }));
    process.exit(1);
  });
}
