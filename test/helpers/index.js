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
  return noIPv6() === null;
}

// ---------------------------------------------------------------------------------------------
// Skips: decided when the test file loads, so that jest reports the test as skipped, with the
// reason in its name, and never as passed.

/** Why IPv6 loopback cannot be used here, or null. */
function noIPv6() {
  const lo = os.networkInterfaces().lo || [];
  return lo.some((a) => a.family === 'IPv6' || a.family === 6) ? null : 'no IPv6 loopback here';
}

/** Why a command is not usable here, or null. */
function noCommand(command, args = ['--version'], hint = '') {
  const { spawnSync } = require('node:child_process');
  const run = spawnSync(command, args, { stdio: 'ignore', env: toolEnv() });
  return run.error ? `no ${command} command${hint ? ` (${hint})` : ''}` : null;
}

/** Why no test certificate can be made here, or null. */
function noOpenssl() {
  return noCommand('openssl', ['version'], 'apt-get install openssl');
}

/** Why this process lacks root, or null. */
function notRoot(what = 'it needs root') {
  return typeof process.getuid === 'function' && process.getuid() === 0 ? null : `not root, and ${what}`;
}

/** Why an unprivileged user (uid 65534) cannot reach the package here, or null (the Node matrix stages it in a private temp folder). */
function unreachableByNobody() {
  for (let dir = path.join(__dirname, '..', '..'); ; dir = path.dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) return `${dir} is not reachable by an unprivileged user`;
    if (dir === path.dirname(dir)) return null;
  }
}

/** The first reason of `reasons` that is not null. */
function firstReason(...reasons) {
  return reasons.find((r) => r) || null;
}

/** `test(name, fn)`, or where `reason` is given, the same test reported as skipped with the reason. */
function testIf(reason, name, fn, timeout) {
  if (reason) test.skip(`${name} [skipped: ${reason}]`, fn);
  else test(name, fn, timeout);
}

/** `describe(name, fn)`, or where `reason` is given, every test of it reported as skipped with the reason. */
function describeIf(reason, name, fn) {
  if (reason) describe.skip(`${name} [skipped: ${reason}]`, fn);
  else describe(name, fn);
}

/**
 * `test.each(cases)(name, fn)` where `reasonOf(...case)` says why a case cannot run here: those
 * cases are reported as skipped with their reason, the others run.
 */
function eachIf(cases, reasonOf, name, fn, timeout) {
  const runnable = cases.filter((c) => !reasonOf(...c));
  const skipped = cases.filter((c) => reasonOf(...c));
  if (runnable.length) test.each(runnable)(name, fn, timeout);
  for (const c of skipped) test.skip(`${name.replace(/%[sid]/, String(c[0]))} [skipped: ${reasonOf(...c)}]`, () => {});
}

/** Polls `predicate` every `every` ms until it is truthy (returns its value) or `ms` pass (throws). */
async function waitFor(predicate, { ms = 10000, every = 10, what = 'the condition' } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, every));
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
  if (spawnSync('openssl', ['version'], { env: toolEnv() }).error)
    throw new Error('no openssl command to make a test certificate (skip with testIf(noOpenssl()))');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        path.join(dir, 'k.pem'),
        '-out',
        path.join(dir, 'c.pem'),
      ],
      { stdio: 'ignore', env: toolEnv() },
    );
    return { key: fs.readFileSync(path.join(dir, 'k.pem')), cert: fs.readFileSync(path.join(dir, 'c.pem')) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A connecting socket whose first address never answers, for the autoSelectFamily cases: ::1 on
 * `port` is a listener whose accept queue is full (so its SYNs go unanswered), 127.0.0.1 on the
 * same port is a real server. `connect()` returns a socket that tries ::1 first and moves on, on a
 * new fd, after 250 ms. Needs IPv6 loopback (skip with testIf(noIPv6(), ...)).
 */
async function silentFirstAddress() {
  const knobs = require('../..');
  const good = await listen('127.0.0.1');
  const port = good.address().port;
  // Tests using this are skipped where noIPv6() says why.
  const silent = knobs.createListeningSocket({ port, host: '::1', backlog: 1, ipv6Only: true });
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
        lookup: (host, options, callback) =>
          callback(null, [
            { address: '::1', family: 6 },
            { address: '127.0.0.1', family: 4 },
          ]),
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
  const knobs = require('../..');
  probed ??= knobs.probe();
  if (name === 'TCP_INFO') {
    const sock = require('../../dist/modules/core/syscall.js').openSocket(knobs.constants.AF_INET, knobs.constants.SOCK_STREAM);
    try {
      if (knobs.getsockopt(sock, 'IPPROTO_TCP', 'TCP_INFO', 512).length >= 104) return null;
    } finally {
      fs.closeSync(sock);
    }
    return 'qemu-user copies only 4 bytes of TCP_INFO';
  }
  return probed[name] && !probed[name].accepted ? `qemu-user does not pass ${name} through (${probed[name].code})` : null;
}

/** Why any of `names` cannot be tested under this emulator, or null. */
function emulated(...names) {
  return firstReason(...names.map(emulatorGap));
}

module.exports = {
  listen,
  tcpPair,
  udpSocket,
  unixServer,
  closeAll,
  hasIPv6,
  thrown,
  track,
  toolEnv,
  selfSignedCert,
  silentFirstAddress,
  EMULATED,
  noIPv6,
  unreachableByNobody,
  noCommand,
  noOpenssl,
  notRoot,
  firstReason,
  emulated,
  testIf,
  describeIf,
  eachIf,
  waitFor,
};
