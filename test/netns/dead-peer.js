'use strict';
// One dead-peer experiment between two test hosts, shared by the namespace tests and by
// `npm run timeline` (which draws the README's SVG from the same capture):
//   1. a plain echo server in one namespace, the socket-knobs client in the other;
//   2. every scenario's connection does a round trip, so nothing is unacknowledged;
//   3. the server host goes silent (nftables drops everything in and out: no RST, no ICMP);
//   4. the client watches for `watchMs` which connections the kernel kills, and when;
//   5. optionally tcpdump, on the client's side, records every packet the client sent.
const path = require('node:path');
const { HostPair, messages } = require('./hosts');

const ECHO_SERVER = path.join(__dirname, 'echo-server.js');
const CLIENT = path.join(__dirname, 'dead-peer-client.js');

function waitFor(predicate, ms, what) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (predicate()) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() - started > ms) {
        clearInterval(timer);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }
    }, 20);
  });
}

/** Parses `tcpdump -n -tt` lines: time (ms since the epoch), source port, flags, payload length. */
function parsePackets(text) {
  const packets = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+\.\d+) IP (\S+)\.(\d+) > (\S+)\.(\d+): Flags \[([^\]]+)\].*length (\d+)/.exec(line);
    if (m) {
      packets.push({ at: Number(m[1]) * 1000, from: m[2], fromPort: Number(m[3]), to: m[4], toPort: Number(m[5]), flags: m[6], length: Number(m[7]) });
    }
  }
  return packets;
}

async function runDeadPeer({ scenarios, watchMs, capture = false }) {
  const pair = new HostPair().create();
  try {
    const server = messages(pair.node(pair.server, ECHO_SERVER, [pair.server.ip]));
    const { ready: port } = await server.next((m) => m.ready);

    let tcpdump;
    let captured = '';
    let tcpdumpErr = '';
    if (capture) {
      tcpdump = pair.exec(pair.client, 'tcpdump', ['-i', pair.client.dev, '-n', '-tt', '-l', `tcp port ${port}`]);
      tcpdump.stdout.on('data', (d) => (captured += d));
      tcpdump.stderr.on('data', (d) => (tcpdumpErr += d));
      await waitFor(() => /listening on/.test(tcpdumpErr), 10000, 'tcpdump to start');
    }

    const client = pair.node(pair.client, CLIENT, [pair.server.ip, String(port), scenarios.join(','), String(watchMs)]);
    const clientMessages = messages(client);
    const { ready } = await clientMessages.next((m) => m.ready);
    pair.silence(pair.server);
    const silencedAt = Date.now();
    client.stdin.write('cut\n');
    const report = await clientMessages.next((m) => m.results, watchMs + 15000);

    let packets = [];
    if (tcpdump) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, 3000); // bounded: destroy() kills it anyway
        tcpdump.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        tcpdump.kill('SIGINT');
      });
      packets = parsePackets(captured);
    }
    return { ready, silencedAt, cutAt: report.cutAt, results: report.results, packets, server: pair.server, client: pair.client, port };
  } finally {
    pair.destroy();
  }
}

module.exports = { runDeadPeer, parsePackets };
