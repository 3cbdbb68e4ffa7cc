#!/usr/bin/env node
'use strict';
// npx socket-knobs [--json] [host:port]
//
// For the people who run the servers: what this machine offers, and what a path really does.
// Without an address it prints the support table (defined in the headers the addon was built with,
// and accepted by the running kernel) and the kernel defaults the knobs override, from /proc/sys.
// With host:port it connects, applies nothing, and prints that connection's TCP_INFO and current
// options, then closes it. --json prints the same as one JSON object.
const fs = require('node:fs');
const net = require('node:net');
const knobs = require('../dist/index.js');

const USAGE = 'usage: socket-knobs [--json] [host:port]   (an IPv6 address in brackets: [::1]:443)';

const SYSCTLS = [
  ['net.ipv4.tcp_keepalive_time', 'seconds idle before the first keepalive probe (TCP_KEEPIDLE)'],
  ['net.ipv4.tcp_keepalive_intvl', 'seconds between keepalive probes (TCP_KEEPINTVL)'],
  ['net.ipv4.tcp_keepalive_probes', 'unanswered probes before the connection is dropped (TCP_KEEPCNT)'],
  ['net.ipv4.tcp_retries2', 'retransmissions of unacknowledged data before giving up (TCP_USER_TIMEOUT overrides)'],
  ['net.ipv4.tcp_syn_retries', 'SYN retransmissions of connect() (TCP_SYNCNT)'],
  ['net.ipv4.tcp_fin_timeout', 'seconds an orphaned FIN-WAIT-2 socket lives (TCP_LINGER2)'],
  ['net.core.somaxconn', 'the cap on a listen() backlog and on TCP_FASTOPEN queues'],
  ['net.ipv4.tcp_fastopen', 'TCP Fast Open: bit 1 client, bit 2 server'],
  ['net.ipv4.tcp_congestion_control', 'default congestion control (TCP_CONGESTION)'],
  ['net.ipv4.tcp_available_congestion_control', 'algorithms loaded'],
  ['net.ipv4.tcp_allowed_congestion_control', 'algorithms a process without CAP_NET_ADMIN may choose'],
  ['net.ipv4.tcp_notsent_lowat', 'default TCP_NOTSENT_LOWAT (4294967295: none)'],
];

function sysctls() {
  const out = {};
  for (const [name, meaning] of SYSCTLS) {
    let value = null;
    try {
      value = fs.readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
    } catch {
      // not on this platform or not readable: reported as null
    }
    out[name] = { value, meaning };
  }
  return out;
}

function supportTable() {
  let probed = {};
  let probeError = null;
  try {
    probed = knobs.probe();
  } catch (err) {
    probeError = `${err.code}: ${err.message}`;
  }
  return {
    options: knobs.OPTIONS.map((row) => ({
      name: row.name,
      level: row.level,
      defined: knobs.isSupported(row.name),
      accepted: probed[row.name] ? probed[row.name].accepted : null,
      ...(probed[row.name] && probed[row.name].code ? { refused: probed[row.name].code } : {}),
    })),
    probeError,
  };
}

function parseAddress(text) {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) || /^([^:]+):(\d+)$/.exec(text);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) return null;
  return { host: m[1], port: Number(m[2]) };
}

function connect({ host, port }) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection to ${host}:${port} within 10 s`));
    }, 10000);
    socket.once('connect', () => {
      clearTimeout(timer);
      try {
        const result = {
          local: `${socket.localAddress}:${socket.localPort}`,
          remote: `${socket.remoteAddress}:${socket.remotePort}`,
          tuning: knobs.getTuning(socket),
          tcpInfo: knobs.getTcpInfo(socket),
        };
        resolve(result);
      } catch (err) {
        reject(err);
      } finally {
        socket.destroy();
      }
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function printTable(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const r of rows)
    console.log(
      r
        .map((cell, i) => String(cell).padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
}

function show(value) {
  if (value && typeof value === 'object')
    return Object.entries(value)
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
      .join(' ');
  return String(value);
}

async function main(argv) {
  const json = argv.includes('--json');
  const rest = argv.filter((a) => a !== '--json');
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  if (rest.length > 1 || (rest.length === 1 && !parseAddress(rest[0]))) {
    console.error(`socket-knobs: ${rest.length > 1 ? 'one address at most' : `not a host:port: ${rest[0]}`}\n${USAGE}`);
    return 2;
  }
  if (rest.length === 1) {
    const address = parseAddress(rest[0]);
    let result;
    try {
      result = await connect(address);
    } catch (err) {
      console.error(`socket-knobs: ${err.code ? `${err.code}: ` : ''}${err.message}`);
      return 1;
    }
    if (json) {
      console.log(JSON.stringify({ connection: result }, (k, v) => (v === Infinity ? 'unlimited' : v), 2));
      return 0;
    }
    console.log(`connection ${result.local} -> ${result.remote} (nothing applied: what the kernel chose)\n`);
    console.log('options');
    printTable(Object.entries(result.tuning).map(([k, v]) => [`  ${k}`, show(v)]));
    console.log('\nTCP_INFO (times: rto, ato, rtt, rttvar, minRtt in µs; lastData*/lastAck* in ms)');
    printTable(Object.entries(result.tcpInfo).map(([k, v]) => [`  ${k}`, show(v === Infinity ? 'unlimited' : v)]));
    return 0;
  }
  const table = supportTable();
  const defaults = sysctls();
  if (json) {
    console.log(
      JSON.stringify(
        { platform: process.platform, node: process.version, addon: knobs.addonPath(), loadError: knobs.loadError(), ...table, sysctls: defaults },
        null,
        2,
      ),
    );
    return 0;
  }
  console.log(`socket-knobs on ${process.platform} (Node ${process.version}), addon ${knobs.addonPath() ?? `none: ${knobs.loadError()}`}\n`);
  console.log('options (defined: in the headers the addon was built with; accepted: by the running kernel)');
  printTable([
    ['  option', 'level', 'defined', 'accepted'],
    ...table.options.map((o) => [
      `  ${o.name}`,
      o.level,
      o.defined ? 'yes' : 'no',
      o.accepted === null ? '?' : o.accepted ? 'yes' : `no${o.refused ? ` (${o.refused})` : ''}`,
    ]),
  ]);
  if (table.probeError) console.log(`  (the kernel could not be asked: ${table.probeError})`);
  console.log('\nkernel defaults the knobs override (/proc/sys)');
  printTable(Object.entries(defaults).map(([name, { value, meaning }]) => [`  ${name}`, value === null ? '-' : value, meaning]));
  return 0;
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
