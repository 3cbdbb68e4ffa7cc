'use strict';
// dial() with nothing to set before connect() (no synRetries, fastOpen, bindAddressNoPort, mptcp,
// control or before-connect tuning row) makes the socket as net.connect() does: Node creates it,
// nothing is adopted, and the syscalls per connection are net.connect()'s (plus the tuning's own
// setsockopt once connected). With a pre-connect field the addon makes the socket first. Counted
// with strace over real loopback connections.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { noCommand, testIf } = require('../helpers');

const root = path.join(__dirname, '..', '..');
const CONNECTIONS = 50;
const TRACED = ['socket', 'setsockopt', 'fcntl', 'ioctl', 'bind', 'connect'];

/** Syscalls per connection (of TRACED) made by `how` (a function body given `port`, returning a Promise of a socket). */
function perConnection(how) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-dial-'));
  const script = `
    const net = require('node:net');
    const knobs = require(${JSON.stringify(root)});
    const server = net.createServer((s) => s.end()).listen(0, '127.0.0.1', async () => {
      const port = server.address().port;
      const open = ${how};
      for (let i = 0; i < 3; i++) (await open(port)).destroy(); // code paths loaded before the marker
      require('node:fs').writeFileSync(${JSON.stringify(path.join(dir, 'marker'))}, '');
      for (let i = 0; i < ${CONNECTIONS}; i++) (await open(port)).destroy();
      server.close();
    });`;
  try {
    const out = spawnSync('strace', ['-f', '-qq', '-e', `trace=${TRACED.join(',')},openat`, '-o', path.join(dir, 'trace'), process.execPath, '-e', script], {
      encoding: 'utf8',
      timeout: 60000,
    });
    if (out.status !== 0) throw new Error(`the traced process failed: ${out.stderr}`);
    const lines = fs.readFileSync(path.join(dir, 'trace'), 'utf8').split('\n');
    const after = lines.slice(lines.findIndex((l) => l.includes('marker')) + 1);
    const counts = Object.fromEntries(TRACED.map((name) => [name, after.filter((l) => new RegExp(`^\\d+\\s+${name}\\(`).test(l)).length / CONNECTIONS]));
    return counts;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

testIf(
  noCommand('strace', ['-V'], 'apt-get install strace'),
  "dial() without a pre-connect field makes net.connect()'s syscalls (Node makes the socket); with one, the addon's socket() and its setsockopt first",
  () => {
    const viaNet = perConnection('(port) => new Promise((resolve) => { const s = net.connect(port, "127.0.0.1", () => resolve(s)); })');
    const plain = perConnection('(port) => knobs.dial({ host: "127.0.0.1", port })');
    const tuned = perConnection('(port) => knobs.dial({ host: "127.0.0.1", port, tuning: { userTimeout: 30000 } })');
    const early = perConnection('(port) => knobs.dial({ host: "127.0.0.1", port, synRetries: 2 })');
    console.log(
      `syscalls per connection: net.connect ${JSON.stringify(viaNet)}; dial ${JSON.stringify(plain)}; dial + tuning ${JSON.stringify(tuned)}; dial + synRetries ${JSON.stringify(early)}`,
    );
    expect(plain).toEqual(viaNet);
    // The tuning once connected: one setsockopt more, nothing else.
    expect(tuned).toEqual({ ...viaNet, setsockopt: viaNet.setsockopt + 1 });
    // A pre-connect field: the addon's socket, TCP_SYNCNT on it before connect.
    expect(early.setsockopt).toBe(viaNet.setsockopt + 1);
    expect(early.socket).toBe(viaNet.socket);
  },
  120000,
);
