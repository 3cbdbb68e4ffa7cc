'use strict';
// Real sockets on loopback for the tests: every helper returns sockets the kernel made, and
// `closeAll()` (called in afterEach) tears down everything a test opened.
const dgram = require('node:dgram');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const opened = [];

function track(thing) {
  opened.push(thing);
  return thing;
}

/** A listening loopback TCP server on an ephemeral port. */
function listen(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = track(net.createServer());
    server.once('error', reject);
    server.listen(0, host, () => resolve(server));
  });
}

/** A connected TCP pair on loopback: `client` (after 'connect') and `accepted` (the server's side). */
async function tcpPair(host = '127.0.0.1') {
  const server = await listen(host);
  const acceptedP = new Promise((resolve) => server.once('connection', (s) => resolve(track(s))));
  const client = track(net.connect(server.address().port, host));
  await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const accepted = await acceptedP;
  return { server, client, accepted };
}

/** A bound UDP socket on loopback. */
function udpSocket(type = 'udp4') {
  return new Promise((resolve, reject) => {
    const socket = track(dgram.createSocket(type));
    socket.once('error', reject);
    socket.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', () => resolve(socket));
  });
}

/** A listening Unix-domain stream server in a fresh temporary directory. */
function unixServer() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-'));
  const file = path.join(dir, 's.sock');
  return new Promise((resolve, reject) => {
    const server = track(net.createServer());
    server.once('error', reject);
    server.once('close', () => fs.rmSync(dir, { recursive: true, force: true }));
    server.listen(file, () => resolve(server));
  });
}

function closeAll() {
  for (const thing of opened.splice(0)) {
    try {
      if (typeof thing.destroy === 'function') thing.destroy();
      else thing.close();
    } catch {
      // already closed
    }
  }
}

/** Whether IPv6 loopback works here (some containers have no ::1). */
async function hasIPv6() {
  try {
    const server = await listen('::1');
    server.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `fn` and returns what it threw; fails the test when it did not throw. Tests then check the
 * class, the code and the fields.
 */
function thrown(fn) {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw, and it returned');
}

/**
 * The environment for running a system tool (ss, openssl) from a test: under npm run test:asan the
 * sanitizer runtime is preloaded into every child, and the tool's own leaks are not ours to report.
 */
function toolEnv() {
  return { ...process.env, LD_PRELOAD: '' };
}

/**
 * A self-signed certificate for localhost made now with the openssl command, or null (with the
 * reason printed) where there is no openssl.
 */
function selfSignedCert() {
  const { execFileSync, spawnSync } = require('node:child_process');
  if (spawnSync('openssl', ['version'], { env: toolEnv() }).error) {
    console.log('skipped: no openssl command to make a test certificate');
    return null;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')],
      { stdio: 'ignore', env: toolEnv() });
    return { key: fs.readFileSync(path.join(dir, 'k.pem')), cert: fs.readFileSync(path.join(dir, 'c.pem')) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A connecting socket whose first address never answers, for the autoSelectFamily cases: ::1 on
 * `port` is a listener whose accept queue is full (so its SYNs go unanswered), 127.0.0.1 on the
 * same port is a real server. `connect()` returns a socket that tries ::1 first and moves on, on a
 * new fd, after 250 ms. Resolves to null (reason printed) where there is no IPv6 loopback.
 */
async function silentFirstAddress() {
  const knobs = require('..');
  const good = await listen('127.0.0.1');
  const port = good.address().port;
  let silent;
  try {
    silent = knobs.createListeningSocket({ port, host: '::1', backlog: 1, ipv6Only: true });
  } catch (err) {
    console.log(`autoSelectFamily case skipped: no IPv6 loopback here (${err.code})`);
    return null;
  }
  const sockets = [];
  // Fill the accept queue (backlog 1 holds two), so that later SYNs to ::1 go unanswered.
  for (let i = 0; i < 3; i++) sockets.push(net.connect(port, '::1').on('error', () => {}));
  await new Promise((resolve) => sockets[1].once('connect', resolve));
  return {
    port,
    connect() {
      const socket = net.connect({
        host: 'two-addresses.test',
        port,
        autoSelectFamily: true,
        autoSelectFamilyAttemptTimeout: 250,
        lookup: (host, options, callback) => callback(null, [{ address: '::1', family: 6 }, { address: '127.0.0.1', family: 4 }]),
      });
      sockets.push(socket.on('error', () => {}));
      return socket;
    },
    close() {
      for (const s of sockets) s.destroy();
      fs.closeSync(silent);
    },
  };
}

// Under qemu-user (npm run test:arm64) the emulator, not the kernel, answers some socket options:
// it translates only the ones it knows and refuses the rest (ENOPROTOOPT), and it copies 4 bytes of
// TCP_INFO. Those are emulator limits, not the prebuild's: such tests skip there, with the reason.
const EMULATED = process.memoryUsage().rss === 0;
let probed;

/** The reason `name` cannot be tested here (the emulator does not pass it through), or null. */
function emulatorGap(name) {
  if (!EMULATED) return null;
  const knobs = require('..');
  probed ??= knobs.probe();
  if (name === 'TCP_INFO') {
    const sock = require('../dist/native.js').native.openSocket(knobs.constants.AF_INET, knobs.constants.SOCK_STREAM);
    try {
      if (knobs.getsockopt(sock, 'IPPROTO_TCP', 'TCP_INFO', 512).length >= 104) return null;
    } finally {
      fs.closeSync(sock);
    }
    return 'qemu-user copies only 4 bytes of TCP_INFO';
  }
  return probed[name] && !probed[name].accepted ? `qemu-user does not pass ${name} through (${probed[name].code})` : null;
}

/** Prints why and returns true when any of `names` cannot be tested under this emulator. */
function skipForEmulator(...names) {
  for (const name of names) {
    const reason = emulatorGap(name);
    if (reason) {
      console.log(`skipped: ${reason}`);
      return true;
    }
  }
  return false;
}

module.exports = { listen, tcpPair, udpSocket, unixServer, closeAll, hasIPv6, thrown, track, toolEnv, selfSignedCert, silentFirstAddress, skipForEmulator, EMULATED };
