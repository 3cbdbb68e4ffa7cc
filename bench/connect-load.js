'use strict';
// Load generator: `count` connections to 127.0.0.1:`port`, `parallel` at a time, each waiting for
// the server's byte and the close. Prints {"perSecond": N, "cpuPerConnection": µs}. The fourth
// argument says how each connection is made:
//   net        net.connect() (the default)
//   dial       socket-knobs' dial() with pre-connect fields (synRetries, a receive buffer)
//   dial-plain dial({ host, port }): nothing before connect
//   adopt      by hand, the floor of that dial: the addon's socket(), the same two options set
//              through the addon, then new net.Socket({ fd }).connect()
// and the same four to a host name ('localhost'), each given the same `lookup` (net-name,
// dial-plain-name, adopt-name: the lookup called, then the adoption; dial-name). The lookup answers
// from memory on the next tick, as a caching resolver does: the rows compare what each does around
// a name, not getaddrinfo's thread pool.
const net = require('node:net');

const [port, count, parallel] = process.argv.slice(2, 5).map(Number);
const kind = process.argv[5] ?? 'net';
const WARM_UP = 1000;
const knobs = kind.startsWith('net') ? null : require('../');
const syscall = kind.startsWith('adopt') ? require('../dist/modules/core/syscall.js') : null;
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

async function open() {
  switch (kind) {
    case 'net':
      return net.connect(port, '127.0.0.1');
    case 'dial-plain':
      return knobs.dial({ host: '127.0.0.1', port });
    case 'adopt':
      return adopt('127.0.0.1');
    case 'dial':
      return knobs.dial({ host: '127.0.0.1', port, ...PRE_CONNECT });
    case 'net-name':
      return net.connect({ host: HOST, port, lookup });
    case 'dial-plain-name':
      return knobs.dial({ host: HOST, port, lookup });
    case 'adopt-name': {
      const address = await new Promise((resolve, reject) => lookup(HOST, { all: true }, (err, list) => (err ? reject(err) : resolve(list[0].address))));
      return adopt(address);
    }
    case 'dial-name':
      return knobs.dial({ host: HOST, port, lookup, ...PRE_CONNECT });
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

function once() {
  return new Promise((resolve, reject) => {
    open().then((socket) => {
      socket.on('data', () => {});
      socket.on('close', resolve);
      socket.on('error', reject);
    }, reject);
  });
}

async function main() {
  // Warm: the code paths loaded and optimised before the clock starts (require() and the JIT's work
  // are not a connection's cost in a client that makes many). After 50 warm-up connections dial()'s
  // larger path was still being compiled during the measured ones: 1.28x adopt, 1.13x after 1000.
  for (let i = 0; i < WARM_UP; i++) await once();
  let started = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (started < count) {
        started++;
        await once();
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ perSecond: count / seconds, cpuPerConnection: (cpu.user + cpu.system) / count }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
