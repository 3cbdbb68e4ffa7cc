'use strict';
// Load generator: connections to 127.0.0.1:`port`, `parallel` at a time, each waiting for the
// server's byte and the close. The fourth argument says how each connection is made:
//   net         net.connect() (the default)
//   dial        socket-knobs' dial() with pre-connect fields (synRetries, a receive buffer)
//   dial-plain  dial({ host, port }): nothing before connect
//   adopt       by hand, the floor of that dial: the addon's socket(), the same two options set
//               through the addon, then new net.Socket({ fd }).connect()
//   adopt-early the same floor, its listeners attached before connect() (see once())
// and four of them to a host name ('localhost'), each given the same `lookup` (net-name,
// dial-plain-name, adopt-name: the lookup called, then the adoption; dial-name). The lookup answers
// from memory on the next tick, as a caching resolver does: the rows compare what each does around
// a name, not getaddrinfo's thread pool.
//
// One kind: `count` connections after a warm-up; prints {"perSecond": N, "cpuPerConnection": µs}.
// Two kinds, 'A/B': both in one process, in alternating batches (paired()); prints each kind's
// CPU per connection and the median of the batches' ratios B/A.
const net = require('node:net');

const [port, count, parallel] = process.argv.slice(2, 5).map(Number);
const kinds = (process.argv[5] ?? 'net').split('/');
const WARM_UP = 1000;
const knobs = kinds.every((k) => k.startsWith('net')) ? null : require('../');
const syscall = kinds.some((k) => k.startsWith('adopt')) ? require('../dist/modules/core/syscall.js') : null;
const HOST = 'localhost';
const ANSWER = [{ address: '127.0.0.1', family: 4 }];
// Called as net.connect() calls it: every address with `all`, else one (err, address, family).
const lookup = (host, options, callback) => process.nextTick(() => (options && options.all ? callback(null, ANSWER) : callback(null, ANSWER[0].address, 4)));
const PRE_CONNECT = { synRetries: 2, tuning: { receiveBufferSize: 65536 } };

/** The floor of a dial with pre-connect fields: socket() through the addon, the two options, adopted and connected by hand. */
function adopt(host) {
  const fd = syscall.openSocket(knobs.constants.AF_INET, knobs.constants.SOCK_STREAM, 0);
  syscall.setIntOption(fd, syncount, 2);
  syscall.setIntOption(fd, receiveBuffer, 65536);
  return new net.Socket({ fd, readable: true, writable: true }).connect({ port, host });
}
const [syncount, receiveBuffer] = syscall ? [syscall.resolve('TCP_SYNCNT'), syscall.resolve('SO_RCVBUF')] : [];

/** Resolves with `socket` once it has connected, as dial() does. */
function connectedOf(socket) {
  return new Promise((resolve, reject) => {
    const onError = (err) => reject(err);
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.removeListener('error', onError);
      resolve(socket);
    });
  });
}

function nameLookedUp() {
  return new Promise((resolve, reject) => lookup(HOST, { all: true }, (err, list) => (err ? reject(err) : resolve(list[0].address))));
}

/** A connected socket of `kind` (adopt-early: not yet connected). */
async function open(kind) {
  switch (kind) {
    case 'net':
      return connectedOf(net.connect(port, '127.0.0.1'));
    case 'dial-plain':
      return knobs.dial({ host: '127.0.0.1', port });
    case 'adopt':
      return connectedOf(adopt('127.0.0.1'));
    case 'adopt-early':
      return adopt('127.0.0.1');
    case 'dial':
      return knobs.dial({ host: '127.0.0.1', port, ...PRE_CONNECT });
    case 'net-name':
      return connectedOf(net.connect({ host: HOST, port, lookup }));
    case 'dial-plain-name':
      return knobs.dial({ host: HOST, port, lookup });
    case 'adopt-name':
      return connectedOf(adopt(await nameLookedUp()));
    case 'dial-name':
      return knobs.dial({ host: HOST, port, lookup, ...PRE_CONNECT });
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

/**
 * One connection, its listeners attached when open() hands it over. dial() hands a socket over
 * once connected, so every kind does (connectedOf()): the ratios then compare what each kind does,
 * not how the client is written. adopt-early keeps the floor as first written here, its listeners
 * attached before connect() (paired runs by hand put it 4-5 % below adopt; the bench's rows of it
 * moved more than that between runs).
 */
function once(kind) {
  return new Promise((resolve, reject) => {
    open(kind).then((socket) => {
      socket.on('data', () => {});
      socket.on('close', resolve);
      socket.on('error', reject);
    }, reject);
  });
}

/** `total` connections of `kind`, `parallel` at a time; resolves with the CPU (µs) the process spent on them. */
async function batch(kind, total) {
  let started = 0;
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (started < total) {
        started++;
        await once(kind);
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return cpu.user + cpu.system;
}

/** The code paths loaded and optimised before the clock starts: after 50 connections dial()'s larger path was still being compiled. */
async function warmUp() {
  for (let i = 0; i < WARM_UP; i++) for (const kind of kinds) await once(kind);
}

async function single() {
  const t0 = process.hrtime.bigint();
  const cpu = await batch(kinds[0], count);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ perSecond: count / seconds, cpuPerConnection: cpu / count }));
}

/**
 * Two kinds in one process, in batches of BATCH connections in the order A B, B A, A B...: the
 * process's state (its heap, its compiled code, the core it runs on) and the kernel's (the
 * TIME_WAIT sockets of earlier connections) drift under both alike. One process per kind, as this
 * bench first measured, gave the same kind 136 to 239 µs per connection in one run.
 */
async function paired() {
  const BATCH = 250;
  const [a, b] = kinds;
  const cpu = { [a]: 0, [b]: 0 };
  const ratios = [];
  for (let i = 0; i * 2 * BATCH < count; i++) {
    const pair = {};
    for (const kind of i % 2 === 0 ? [a, b] : [b, a]) pair[kind] = await batch(kind, BATCH);
    cpu[a] += pair[a];
    cpu[b] += pair[b];
    ratios.push(pair[b] / pair[a]);
  }
  const n = ratios.length;
  ratios.sort((x, y) => x - y);
  const ratio = n % 2 ? ratios[(n - 1) / 2] : (ratios[n / 2 - 1] + ratios[n / 2]) / 2;
  console.log(JSON.stringify({ cpuPerConnection: { [a]: cpu[a] / (n * BATCH), [b]: cpu[b] / (n * BATCH) }, ratio, batch: BATCH }));
}

warmUp()
  .then(kinds.length === 2 ? paired : single)
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
