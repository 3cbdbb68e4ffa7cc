#!/usr/bin/env node
'use strict';
// npm run evidence (root: network namespaces, nftables, tcpdump): runs the kernel proofs of
// test/system/netns.test.js once more, with the same fixtures, and writes what they measured into
// docs/evidence/kernel-proofs.md between its generated markers, with the machine and the date.
// The tests assert bounds; this page records the figures of one run, so no number there is typed
// by hand.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { runDeadPeer } = require('../test/fixtures/netns/dead-peer');
const { runDeadline, RUNS, PAUSED } = require('../test/fixtures/netns/deadline-proof');
const { HostPair, messages, unavailableReason } = require('../test/fixtures/netns/hosts');

const root = path.join(__dirname, '..');
const page = path.join(root, 'docs', 'evidence', 'kernel-proofs.md');
const fixtures = path.join(root, 'test', 'fixtures', 'netns');
const WATCH_MS = 6500;

async function deadPeer() {
  const capture = !spawnSync('tcpdump', ['--version']).error;
  const run = await runDeadPeer({ scenarios: ['keepalive', 'defaults-idle', 'user-timeout', 'defaults-writing'], watchMs: WATCH_MS, capture });
  const result = (name) => run.results.find((r) => r.name === name);
  const sent = (name) => run.packets.filter((p) => p.fromPort === result(name).localPort && p.at >= run.silencedAt && p.at <= run.cutAt + WATCH_MS);
  const keepalive = result('keepalive');
  const probes = sent('keepalive').filter((p) => p.flags === '.' && p.length <= 1);
  const writer = result('user-timeout');
  const writing = result('defaults-writing');
  const retrans = (r) => Math.max(...r.samples.map((s) => s.totalRetrans));
  return [
    [
      '`setKeepAlive({ idle: 1, interval: 1, count: 2 })`, idle connection, silent peer',
      `\`${keepalive.error}\` ${keepalive.diedAt - keepalive.lastDataAt} ms after the last data; tcpi_probes ${[...new Set(keepalive.samples.map((s) => s.probes))].join(' → ')}` +
        (capture
          ? `; tcpdump: ${probes.length} probes at ${probes.map((p) => `${((p.at - keepalive.lastDataAt) / 1000).toFixed(2)} s`).join(' and ')}, then ${sent('keepalive').filter((p) => p.flags.includes('R')).length} reset`
          : ''),
    ],
    [
      'kernel defaults, the same idle connection',
      `${result('defaults-idle').alive ? 'still open' : `died: ${result('defaults-idle').error}`} after ${WATCH_MS / 1000} s${capture ? `; ${sent('defaults-idle').length} packets sent` : ''}`,
    ],
    [
      '`setUserTimeout(socket, 2000)`, data unacknowledged',
      `\`${writer.error}\` ${writer.diedAt - writer.lastDataAt} ms after the write; tcpi_total_retrans up to ${retrans(writer)}`,
    ],
    [
      'no user timeout, data unacknowledged',
      `${writing.alive ? 'still retransmitting' : `died: ${writing.error}`} after ${WATCH_MS / 1000} s; tcpi_total_retrans up to ${retrans(writing)}${capture ? `; ${sent('defaults-writing').filter((p) => p.flags.includes('R')).length} resets` : ''}`,
    ],
  ];
}

/** deadPeerTimeout: the system test's 12 runs and the paused one, in parallel namespace pairs. */
async function deadlines() {
  const results = await Promise.all([...RUNS, PAUSED].map(runDeadline));
  return results.map((r) => {
    const { cutAt, errorAt, firstUnackedAt, lastReceivedAgo, error, controlOpen } = r.result;
    const from = r.mode === 'busy' ? firstUnackedAt : cutAt;
    const k = r.ready.keepAlive;
    return [
      `\`deadPeerTimeout: '${r.deadline / 1000}s'\` (idle ${k.idle} s, interval ${k.interval} s, count ${k.count}, user timeout ${r.ready.userTimeout} ms), ${r.mode}, ${r.side} side${r.paused ? ', socket paused' : ''}, cut ${r.cutDelayMs} ms after the round trip`,
      `\`${error}\` ${errorAt - from} ms after the ${r.mode === 'busy' ? 'first unacknowledged write' : 'cut'} (deadline ${r.deadline} ms; last segment received ${lastReceivedAgo} ms before the cut); kernel defaults, same cut: ${controlOpen ? `still open after ${(r.deadline + 8000) / 1000} s` : 'closed'}`,
    ];
  });
}

async function reusePort() {
  const pair = new HostPair().create();
  try {
    const server = messages(pair.node(pair.server, path.join(fixtures, 'reuse-server.js'), ['reuseport', pair.server.ip]));
    const { ready: port } = await server.next((m) => m.ready);
    const client = messages(pair.node(pair.client, path.join(fixtures, 'connect-client.js'), [pair.server.ip, String(port), '200', '10']));
    const { tally } = await client.next((m) => m.tally, 30000);
    return [['`listen({ reusePort: true })` in two processes, 200 connections', `listener 0 served ${tally['0']}, listener 1 served ${tally['1']}`]];
  } finally {
    pair.destroy();
  }
}

/** observe() against the kernel's counters (the fixtures of netns.test.js's observe proofs). */
async function observeProofs() {
  const proof = path.join(fixtures, 'observe-proof.js');
  const pair = new HostPair().create();
  let retrans;
  try {
    const sink = messages(pair.node(pair.server, proof, ['sink', pair.server.ip]));
    const { ready: port } = await sink.next((m) => m.ready);
    pair.lose(pair.server, 10);
    retrans = await messages(pair.node(pair.client, proof, ['retrans', pair.server.ip, String(port)])).next((m) => 'kernel' in m, 60000);
  } finally {
    pair.destroy();
  }
  const script = [
    'ip link set lo mtu 1500 up',
    'tc qdisc add dev lo root tbf rate 8mbit burst 16kb latency 500ms',
    `exec "${process.execPath}" "${proof}" rtt`,
  ].join(' && ');
  const run = spawnSync('unshare', ['-n', 'sh', '-c', script], { encoding: 'utf8', timeout: 60000 });
  const rtt = JSON.parse(run.stdout.trim().split('\n').pop());
  return [
    [
      '`observe()` exporting to prom-client, one in ten data packets dropped on the way (3 MB)',
      `network_tcp_packets_retransmitted_total ${retrans.observed}; the namespace's TcpRetransSegs (nstat) +${retrans.kernel}`,
    ],
    [
      '`observe()` every 50 ms on a loopback shaped by tbf (8 Mbit/s), a 2 MiB write',
      `rtt ${rtt.idleRtt} µs idle, up to ${rtt.maxRtt} µs under the write; minRtt at most ${rtt.maxMinRtt} µs (${rtt.samples} samples)`,
    ],
  ];
}

/** dial()'s options set before connect (the fixtures of netns.test.js's dial proofs). */
async function dialProofs() {
  const proof = path.join(fixtures, 'dial-proof.js');
  const capture = !spawnSync('tcpdump', ['--version']).error;
  const scenario = async (serverFlags, mode, prepare = () => {}) => {
    const pair = new HostPair().create();
    try {
      prepare(pair);
      const server = messages(pair.node(pair.server, proof, ['server', pair.server.ip, ...serverFlags]));
      const { ready: port } = await server.next((m) => m.ready);
      if (mode === 'syn') pair.silence(pair.server);
      const run = () => messages(pair.node(pair.client, proof, [mode, pair.server.ip, String(port)])).next(() => true, 60000);
      if (!capture) return { result: await run(), syns: null };
      const { result, text } = await pair.capture(pair.client, port, run);
      return { result, syns: HostPair.syns(text) };
    } finally {
      pair.destroy();
    }
  };
  const rows = [];
  const syn = await scenario([], 'syn');
  const ports = syn.syns && [...new Set(syn.syns.map((s) => s.sourcePort))];
  const count = (port) => syn.syns.filter((s) => s.sourcePort === port).length;
  rows.push([
    '`dial({ synRetries: 1 })` to a silent host, beside a default dial',
    `\`${syn.result.error}\` after ${syn.result.failedAfter} ms${ports ? ` (${count(ports[0])} SYNs)` : ''}; the default dial still ${syn.result.defaultState} after ${syn.result.defaultAfter} ms${ports ? ` (${count(ports[1])} SYNs so far)` : ''}`,
  ]);
  const wscale = await scenario([], 'wscale');
  rows.push([
    '`dial({ tuning: { receiveBufferSize: 4096 } })` and a default dial',
    `window scale ${wscale.result.small} and ${wscale.result.plain} (tcpi_rcv_wscale)${wscale.syns ? `; the SYNs carried ${wscale.syns.map((s) => s.wscale).join(' and ')}` : ''}`,
  ]);
  const fastOpen = await scenario(['fastopen'], 'fastopen', (pair) => {
    for (const host of [pair.server, pair.client]) pair.sysctl(host, 'net.ipv4.tcp_fastopen', 3);
  });
  rows.push([
    'two `dial({ fastOpen: true })` connections, each writing 5 bytes at once, to `listen({ fastOpen: 16 })`',
    `tcpi_options SYN_DATA ${fastOpen.result.connections.map((c) => c.synData).join(', ')}${fastOpen.syns ? `; SYN payloads ${fastOpen.syns.map((s) => s.length).join(' and ')} bytes` : ''}`,
  ]);
  const mptcp = await scenario(['mptcp'], 'mptcp');
  rows.push(['`dial({ mptcp: true })` to `listen({ mptcp: true })`', `TCP_IS_MPTCP ${mptcp.result.local} on the client, ${mptcp.result.peer} on the server`]);
  return rows;
}

async function main() {
  const reason = unavailableReason();
  if (reason) {
    console.error(`evidence: the kernel proofs cannot run here: ${reason}`);
    process.exit(1);
  }
  const rows = [...(await deadPeer()), ...(await deadlines()), ...(await reusePort()), ...(await observeProofs()), ...(await dialProofs())];
  const cpu = os.cpus()[0]?.model.split(' ').slice(0, 2).join(' ') ?? os.arch();
  const text = [
    `Measured by \`npm run evidence\` on ${cpu}, Linux ${os.release()}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| scenario | what the kernel did |',
    '| --- | --- |',
    ...rows.map(([what, result]) => `| ${what} | ${result} |`),
  ].join('\n');
  console.log(text);
  const doc = fs.readFileSync(page, 'utf8');
  const BEGIN = '<!-- evidence:begin (written by npm run evidence) -->';
  const END = '<!-- evidence:end -->';
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${page} lacks the evidence markers`);
  fs.writeFileSync(page, `${doc.slice(0, start + BEGIN.length)}\n${text}\n${doc.slice(end)}`);
  console.error('docs/evidence/kernel-proofs.md updated');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
