'use strict';
// The call mix of the memory runs (leak.js in npm test, soak.js for millions of calls): every kind
// of call a long-lived server makes, on one real loopback connection, with every error path.
const net = require('node:net');
const knobs = require('../..');

/**
 * Opens the sockets and returns `{ kinds, close }`; `kinds[i](n)` makes one call of kind i. The
 * first five kinds are the core mix (keepalive, raw bytes, the plain error paths) that npm test's
 * million-call check holds to 4 MiB; the rest (tunings, TCP_INFO, 1 MiB inputs) the soak adds.
 */
async function workload() {
  // The linger value set below resets connections when they close: the server's ends ignore that.
  const server = net.createServer((s) => s.on('error', () => {}));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect(server.address().port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  const dead = net.connect(server.address().port, '127.0.0.1');
  await new Promise((resolve) => dead.once('connect', resolve));
  dead.destroy();
  const linger = Buffer.alloc(8);
  linger.writeInt32LE(1, 0);
  linger.writeInt32LE(5, 4);
  const huge = 'k'.repeat(1 << 20);
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const tuner = knobs.createTuner({ keepAlive: { idle: 60, interval: 10, count: 3 }, userTimeout: 30000, noDelay: true });
  const expectRefused = (call) => {
    try {
      call();
    } catch (err) {
      if (!(err instanceof knobs.SocketOptionError)) throw err;
    }
  };
  const kinds = [
    () => knobs.setKeepAlive(client, { enable: true, idle: 60, interval: 10, count: 3 }),
    () => knobs.getKeepAlive(client),
    () => knobs.setsockopt(client, 'SOL_SOCKET', 'SO_LINGER', linger),
    () => knobs.getsockopt(client, 'SOL_SOCKET', 'SO_LINGER', 8),
    // Error paths, in turn: invalid argument, kernel refusal, destroyed socket, unsupported name.
    (i) =>
      expectRefused(() => {
        switch (i & 3) {
          case 0:
            knobs.setKeepAlive(client, { idle: 'x' });
            break;
          case 1:
            knobs.setsockopt(client, 'IPPROTO_TCP', 'TCP_KEEPCNT', 500);
            break;
          case 2:
            knobs.getKeepAlive(dead);
            break;
          default:
            knobs.getsockopt(client, 'IPPROTO_TCP', 'NO_SUCH_OPTION');
        }
      }),
    () => knobs.tune(client, { keepAlive: { idle: 61 }, noDelay: true }),
    () => tuner.apply(client),
    () => knobs.getTuning(client),
    () => knobs.getTcpInfo(client),
    // The adversarial inputs: a 1 MiB option name, a 1 MiB unknown key, a revoked Proxy.
    (i) =>
      expectRefused(() => {
        switch (i % 3) {
          case 0:
            knobs.getsockopt(client, 'IPPROTO_TCP', huge);
            break;
          case 1:
            knobs.tune(client, { [huge]: 1 });
            break;
          default:
            knobs.setKeepAlive(client, revoked.proxy);
        }
      }),
  ];
  return {
    kinds,
    core: kinds.slice(0, 5),
    close() {
      client.destroy();
      server.close();
    },
  };
}

module.exports = { workload };
