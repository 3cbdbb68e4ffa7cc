'use strict';
// `npm run demo`: the main job on this machine. A loopback server tunes its listener once with
// socket-knobs, then shows what the kernel reports on a connection it accepts (inherited, no
// syscall per connection) next to an untuned socket, its TCP_INFO, and the support table.
const net = require('node:net');
const path = require('node:path');
const knobs = require('..');

const TUNING = { keepAlive: { idle: 60, interval: 10, count: 3 }, userTimeout: 30000, noDelay: true };

/** A tuning as rows of knob -> value, for the table (keepAlive flattened). */
function flat(state) {
  const { keepAlive, linger, ...rest } = state;
  const out = {};
  for (const [k, v] of Object.entries(keepAlive)) out[`keepAlive.${k}`] = v;
  out.linger = `${linger.enable ? 'on' : 'off'}, ${linger.seconds} s`;
  return Object.assign(out, rest);
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
  if (knobs.addonPath() === null) {
    console.log(`no native addon could be loaded here: ${knobs.loadError()}`);
    process.exitCode = 1;
    return;
  }
  console.log(`addon loaded from ${path.relative(process.cwd(), knobs.addonPath())}\n`);

  const server = net.createServer((socket) => {
    // The client's own end may still be connecting when the server accepts: wait for it.
    if (client.connecting) client.once('connect', () => report(socket));
    else report(socket);
  });

  function report(socket) {
    // Nothing is done per connection: the listener was tuned once, and Linux copies its options to
    // every socket it accepts. Compare with the client's socket, which nobody tuned.
    const inherited = flat(knobs.getTuning(socket));
    const untuned = flat(knobs.getTuning(client));
    console.log(`accepted ${socket.remoteAddress}:${socket.remotePort}; what the kernel reports (getTuning):`);
    printTable(
      Object.keys(inherited).map((knob) => ({ knob, 'an untuned socket': untuned[knob], 'accepted from the tuned listener': inherited[knob] })),
      ['knob', 'an untuned socket', 'accepted from the tuned listener'],
    );
    const info = knobs.getTcpInfo(socket);
    console.log(
      `\nthe kernel's view of the accepted connection (getTcpInfo): state ${info.state}, rtt ${info.rtt} µs, ` +
        `congestion window ${info.sndCwnd} segments, ${info.bytesReceived} bytes received, ${info.length}-byte struct tcp_info`,
    );
    console.log(`the listening socket: SO_REUSEADDR=${knobs.getReuseAddress(server)} (libuv set it before bind)`);

    try {
      knobs.tune(socket, { keepAlive: { count: 500 } });
    } catch (err) {
      console.log(`a bad value is refused before any syscall: ${err}`);
    }
    try {
      knobs.tune(socket, { keepalive: { idle: 5 } });
    } catch (err) {
      console.log(`so is a typo: ${err}`);
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
  }

  let client;
  server.listen(0, '127.0.0.1', () => {
    knobs.tune(server, TUNING); // once, on the listener
    console.log(`the listener is tuned once: knobs.tune(server, ${JSON.stringify(TUNING)})\n`);
    client = net.connect(server.address().port, '127.0.0.1');
    client.on('error', () => {});
    client.resume();
    client.write('hello');
  });
}

main();
