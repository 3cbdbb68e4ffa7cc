'use strict';
// tuneServer's promise where the kernel's inheritance holds: no setsockopt per connection beyond
// what the same server makes untuned (an http server sets TCP_NODELAY on each socket itself).
// Counted with strace over 200 real connections, for each mode.
const { noCommand, testIf } = require('../helpers');
const { countSetsockopt } = require('../fixtures/syscall-count');

const CONNECTIONS = 200;
const count = (mode) => countSetsockopt(mode, CONNECTIONS);

testIf(
  noCommand('strace', ['-V'], 'apt-get install strace'),
  'setsockopt per connection: untuned, tuned through the listener, tuned per connection',
  async () => {
    const untuned = await count('untuned');
    const listener = await count('listener');
    const perConnection = await count('per-connection');
    console.log(
      `setsockopt per connection over ${CONNECTIONS} http connections: untuned ${untuned.perConnection}, tuneServer (listener) ${listener.perConnection}, tuneServer (per-connection) ${perConnection.perConnection}`,
    );
    // Node's own TCP_NODELAY on each accepted socket; the listener's tuning costs nothing more.
    expect(untuned.perConnection).toBe(1);
    expect(listener.serving).toBe(untuned.serving);
    // A server made with keepAlive: Node's own keepalive calls, then the three timing fields.
    expect(perConnection.perConnection).toBeGreaterThan(untuned.perConnection);
    expect(perConnection.serving % CONNECTIONS).toBe(0);
  },
  120000,
);
