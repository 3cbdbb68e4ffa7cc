'use strict';
// The session docs/cli.md shows: `npx socket-knobs` on a clustered server, run for real. A
// round-robin cluster of two workers, each tuning its connections with tuneServer; four clients;
// in one worker, one connection is reset behind the package's back (socket.setKeepAlive(true,
// 1000), as a framework would). Then, as an operator would: find the processes by port, read a
// worker, check it against the intended tuning. Prints the transcript as Markdown. Linux, root
// (--pid borrows fds). Run: `node demo/cluster-session.js`.
const cluster = require('node:cluster');
const net = require('node:net');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const knobs = require('..');

const TUNING = { keepAlive: { idle: 60, interval: 10, count: 3 }, userTimeout: 30000 };

if (cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const workers = [cluster.fork(), cluster.fork()];
  let listening = 0;
  let port = 0;
  for (const w of workers)
    w.on('message', (m) => {
      port = m.port ?? port;
      if (m.port !== undefined && ++listening === 2) connect();
    });
  const clients = [];
  const connect = () => {
    let open = 0;
    for (let i = 0; i < 4; i++) clients.push(net.connect(port, '127.0.0.1', () => ++open === 4 && setTimeout(session, 300)));
  };
  const session = () => {
    const run = (...args) => {
      const out = spawnSync(process.execPath, [path.join(__dirname, '..', 'bin', 'socket-knobs.js'), ...args], { encoding: 'utf8' });
      const shown = args.map((a) => (a.startsWith('{') ? `'${a}'` : a)).join(' ');
      return `$ npx socket-knobs ${shown}\n${out.stdout}${out.stderr}${out.status ? `(exit ${out.status})\n` : ''}`;
    };
    const [first] = workers.map((w) => w.process.pid);
    console.log(
      ['```console', run('--port', String(port)), run('--pid', String(first)), run('--pid', String(first), '--expect', JSON.stringify(TUNING)), '```'].join(
        '\n',
      ),
    );
    for (const c of clients) c.destroy();
    for (const w of workers) w.kill();
    process.exit(0);
  };
  setTimeout(() => process.exit(1), 30000).unref();
} else {
  // The second worker's listen(0) joins the first's port: the primary holds one listener for both.
  let accepted = 0;
  const server = net.createServer((s) => {
    s.on('error', () => {});
    if (++accepted === 1 && cluster.worker.id === 1) s.setKeepAlive(true, 1000);
  });
  knobs.tuneServer(server, TUNING);
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
}
