'use strict';
// `npm run demo`: the main job on this machine. A loopback server tunes each accepted connection
// with socket-knobs, then prints what the kernel reports back, and the hasattr-style support table.
const net = require('node:net');
const path = require('node:path');
const knobs = require('..');

const TUNING = { keepAlive: { idle: 60, interval: 10, count: 3 }, userTimeoutMs: 30000, noDelay: true };

function kernelView(socket) {
  const view = { ...knobs.getKeepAlive(socket), noDelay: knobs.getNoDelay(socket) };
  if (knobs.isSupported('TCP_USER_TIMEOUT')) view.userTimeoutMs = knobs.getUserTimeout(socket);
  return view;
}

function printTable(rows, columns) {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) => cells.map((cell, i) => String(cell).padEnd(widths[i])).join('  ');
  console.log(line(columns));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(columns.map((c) => row[c])));
}

function main() {
  console.log(`socket-knobs demo on ${process.platform}-${process.arch}, Node ${process.version}`);
  console.log(`addon loaded from ${path.relative(process.cwd(), knobs.addonPath())}\n`);

  const server = net.createServer((socket) => {
    // Tune in the 'connection' handler: the accepted socket has its fd now.
    const before = kernelView(socket);
    knobs.setKeepAlive(socket, TUNING.keepAlive);
    if (knobs.isSupported('TCP_USER_TIMEOUT')) knobs.setUserTimeout(socket, TUNING.userTimeoutMs);
    knobs.setNoDelay(socket, TUNING.noDelay);
    const after = kernelView(socket);

    console.log(`accepted ${socket.remoteAddress}:${socket.remotePort}; the kernel reports (getsockopt):`);
    printTable(
      Object.keys(after).map((knob) => ({ knob, 'before tuning': before[knob], 'after tuning': after[knob] })),
      ['knob', 'before tuning', 'after tuning'],
    );
    console.log(`\nthe listening socket: SO_REUSEADDR=${knobs.getReuseAddress(server)} (libuv set it before bind)`);

    try {
      knobs.setKeepAlive(socket, { count: 500 });
    } catch (err) {
      console.log(`a bad value is refused before any syscall: ${err}`);
    }

    socket.end();
    server.close();
    console.log('\nsupport table: "defined" is the hasattr question (the platform headers), "kernel accepts" is probe():');
    const probed = knobs.probe();
    printTable(
      knobs.OPTIONS.map((row) => ({
        option: row.name,
        level: row.level,
        defined: knobs.isSupported(row.name) ? 'yes' : 'no',
        value: knobs.isSupported(row.name) ? knobs.constants[row.name] : '-',
        'kernel accepts': probed[row.name].accepted ? 'yes' : probed[row.name].defined ? `no (${probed[row.name].code})` : '-',
      })),
      ['option', 'level', 'defined', 'value', 'kernel accepts'],
    );
  });

  server.listen(0, '127.0.0.1', () => {
    const client = net.connect(server.address().port, '127.0.0.1');
    client.on('error', () => {});
    client.resume();
  });
}

main();
