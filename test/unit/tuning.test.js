'use strict';
// Tunings: tune(), getTuning(), createTuner(), tuneOnConnect(), on real loopback sockets, and a
// tuned listener whose settings every accepted socket inherits (read back on the accepted side).
const http = require('node:http');
const net = require('node:net');
const knobs = require('../..');
const { tcpPair, listen, closeAll, thrown, track, unixServer, silentFirstAddress, noIPv6, testIf, eachIf, describeIf } = require('../helpers');

afterEach(closeAll);

const LINUX = process.platform === 'linux';
const FULL = {
  keepAlive: { idle: 61, interval: 11, count: 4 },
  userTimeout: 45000,
  noDelay: true,
  linger: { enable: true, seconds: 3 },
  receiveBufferSize: 65536,
  sendBufferSize: 32768,
};
// What the kernel reports for FULL on Linux (buffer sizes doubled).
const FULL_STATE = {
  keepAlive: { enable: true, idle: 61, interval: 11, count: 4 },
  userTimeout: 45000,
  noDelay: true,
  linger: { enable: true, seconds: 3 },
  receiveBufferSize: 131072,
  sendBufferSize: 65536,
};

function accepted(server, host = '127.0.0.1') {
  const acceptedP = new Promise((resolve) => server.once('connection', (s) => resolve(track(s))));
  const client = track(net.connect(server.address().port, host));
  return Promise.all([acceptedP, new Promise((resolve) => client.once('connect', resolve))]).then(([s]) => s);
}

describe('tune() and getTuning()', () => {
  test('every field is applied and read back in the same shape and units', async () => {
    const { client } = await tcpPair();
    const before = knobs.getTuning(client);
    expect(before.keepAlive.enable).toBe(false);
    knobs.tune(client, FULL);
    expect(knobs.getTuning(client)).toMatchObject(FULL_STATE);
  });

  test('only the fields given are set; keepAlive: false turns SO_KEEPALIVE off and leaves the timers', async () => {
    const { client } = await tcpPair();
    knobs.tune(client, FULL);
    knobs.tune(client, { keepAlive: false });
    expect(knobs.getTuning(client)).toMatchObject({ ...FULL_STATE, keepAlive: { ...FULL_STATE.keepAlive, enable: false } });
    knobs.tune(client, { noDelay: false });
    expect(knobs.getTuning(client).noDelay).toBe(false);
    expect(knobs.getTuning(client).userTimeout).toBe(45000);
  });

  test.each([
    ['a typo (keepalive)', { keepalive: { idle: 5 } }, 'ERR_INVALID_ARG_VALUE', 'tuning.keepalive'],
    ['a typo inside keepAlive', { keepAlive: { intervall: 5 } }, 'ERR_INVALID_ARG_VALUE', 'tuning.keepAlive.intervall'],
    ['keepAlive: true', { keepAlive: true }, 'ERR_INVALID_ARG_TYPE', 'tuning.keepAlive'],
    ['count out of range', { keepAlive: { count: 500 } }, 'ERR_OUT_OF_RANGE', 'tuning.keepAlive.count'],
    ['a user timeout string without a unit', { userTimeout: '5000' }, 'ERR_INVALID_ARG_VALUE', 'tuning.userTimeout'],
    ['a user timeout of 1.5 ms', { userTimeout: '1500us' }, 'ERR_INVALID_ARG_VALUE', 'tuning.userTimeout'],
    ['a keepalive idle of 1.5 s', { keepAlive: { idle: '1500ms' } }, 'ERR_INVALID_ARG_VALUE', 'tuning.keepAlive.idle'],
    ['a user timeout of an object', { userTimeout: {} }, 'ERR_INVALID_ARG_TYPE', 'tuning.userTimeout'],
    ['a negative buffer size', { receiveBufferSize: -1 }, 'ERR_OUT_OF_RANGE', 'tuning.receiveBufferSize'],
    ['linger without enable', { linger: { seconds: 5 } }, 'ERR_INVALID_ARG_TYPE', 'tuning.linger.enable'],
    ['noDelay: 1', { noDelay: 1 }, 'ERR_INVALID_ARG_TYPE', 'tuning.noDelay'],
    ['the last field invalid', { keepAlive: { idle: 5 }, userTimeout: 1, noDelay: true, sendBufferSize: 1.5 }, 'ERR_OUT_OF_RANGE', 'tuning.sendBufferSize'],
  ])('%s: InvalidArgumentError, and nothing changed', async (name, tuning, code, argument) => {
    const { client } = await tcpPair();
    knobs.tune(client, FULL);
    const before = knobs.getTuning(client);
    expect(before).toMatchObject(FULL_STATE);
    const err = thrown(() => knobs.tune(client, tuning));
    expect(err).toBeInstanceOf(knobs.InvalidArgumentError);
    expect(err).toMatchObject({ code, argument });
    expect(knobs.getTuning(client)).toEqual(before);
  });

  test('not an object: ERR_INVALID_ARG_TYPE', async () => {
    const { client } = await tcpPair();
    for (const bad of [undefined, null, 5, 'x', []]) expect(thrown(() => knobs.tune(client, bad)).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  test('a kernel refusal names what was already applied', async () => {
    const server = await unixServer();
    const client = track(net.connect(server.address()));
    await new Promise((resolve) => client.once('connect', resolve));
    // AF_UNIX has SO_RCVBUF but no TCP options: the batch (socket-level rows first, in the table's
    // order) stops at the first TCP one, and says what it had set.
    const err = thrown(() => knobs.tune(client, { noDelay: true, receiveBufferSize: 65536 }));
    expect(err).toBeInstanceOf(knobs.SyscallError);
    expect(err.option).toBe('TCP_NODELAY');
    expect(err.applied).toEqual(['SO_RCVBUF']);
    expect(err.message).toMatch(/already applied: SO_RCVBUF/);
  });

  test('createTuner(): validated once (throws at once on a bad tuning), applied to many sockets', async () => {
    expect(() => knobs.createTuner({ keepAlive: { idle: 0 } })).toThrow(knobs.InvalidArgumentError);
    const tuner = knobs.createTuner(FULL);
    expect(Object.isFrozen(tuner.tuning)).toBe(true);
    expect(tuner.tuning).toEqual({ ...FULL, keepAlive: { enable: true, ...FULL.keepAlive } }); // enable's default made explicit
    const a = await tcpPair();
    const b = await tcpPair();
    tuner.apply(a.client);
    tuner.apply(b.accepted);
    expect(knobs.getTuning(a.client)).toMatchObject(FULL_STATE);
    expect(knobs.getTuning(b.accepted)).toMatchObject(FULL_STATE);
  });
});

describeIf(LINUX ? null : 'inheritance is measured on Linux', 'a tuned listener: accepted sockets inherit it (Linux), no syscall per connection', () => {
  eachIf(
    [['127.0.0.1'], ['::1']],
    (host) => (host === '::1' ? noIPv6() : null),
    'every field, read back on sockets accepted over %s',
    async (host) => {
      const server = await listen(host);
      knobs.tune(server, FULL);
      for (let i = 0; i < 3; i++) expect(knobs.getTuning(await accepted(server, host))).toMatchObject(FULL_STATE);
    },
  );

  test("a server's own keepAlive with a delay would reset every accepted socket: tune() refuses, and the reset is real", async () => {
    const server = track(net.createServer({ keepAlive: true, keepAliveInitialDelay: 5000 }));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const err = thrown(() => knobs.tune(server, { keepAlive: { idle: 61, interval: 11, count: 4 } }));
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(err.message).toMatch(/keepAliveInitialDelay \(5 s\)/);
    // What would have happened: set it on the listener anyway, and Node overwrites it per connection.
    knobs.setKeepAlive(server, { idle: 61, interval: 11, count: 4 });
    expect(knobs.getKeepAlive(await accepted(server))).toEqual({ enable: true, idle: 5, interval: 1, count: 10 });
  });

  test('with keepAliveInitialDelay left at 0, Node changes nothing: the tuning holds', async () => {
    const server = track(net.createServer({ keepAlive: true }));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    knobs.tune(server, { keepAlive: { idle: 61, interval: 11, count: 4 } });
    expect(knobs.getKeepAlive(await accepted(server))).toEqual({ enable: true, idle: 61, interval: 11, count: 4 });
  });

  test("http.createServer's noDelay: true would override noDelay: false: refused; an http server's inherited tuning otherwise holds", async () => {
    const server = track(http.createServer((req, res) => res.end(JSON.stringify(knobs.getTuning(req.socket)))));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    expect(thrown(() => knobs.tune(server, { noDelay: false })).code).toBe('ERR_INVALID_ARG_VALUE');
    knobs.tune(server, { keepAlive: { idle: 61, interval: 11, count: 4 }, userTimeout: 45000 });
    const body = await new Promise((resolve, reject) => {
      http
        .get({ port: server.address().port, host: '127.0.0.1', agent: false }, (res) => {
          let data = '';
          res.on('data', (d) => (data += d)).on('end', () => resolve(JSON.parse(data)));
        })
        .on('error', reject);
    });
    expect(body.keepAlive).toEqual({ enable: true, idle: 61, interval: 11, count: 4 });
    expect(body.userTimeout).toBe(45000);
    expect(body.noDelay).toBe(true);
  });
});

describe('tuneOnConnect()', () => {
  test('a bad tuning throws at once, before anything is attached', () => {
    const socket = new net.Socket();
    expect(thrown(() => knobs.tuneOnConnect(socket, { keepalive: {} })).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(socket.listenerCount('connect')).toBe(0);
    expect(thrown(() => knobs.tuneOnConnect({}, {})).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  test("applies at 'connect', after Node's own keepAlive: true handling, and returns the socket", async () => {
    const server = await listen();
    const socket = net.connect({ port: server.address().port, host: '127.0.0.1', keepAlive: true, keepAliveInitialDelay: 5000 });
    track(socket);
    expect(knobs.tuneOnConnect(socket, FULL)).toBe(socket);
    await new Promise((resolve) => socket.once('connect', resolve));
    expect(knobs.getTuning(socket)).toMatchObject(FULL_STATE);
  });

  test('applies at once to a socket that is already connected', async () => {
    const { client } = await tcpPair();
    knobs.tuneOnConnect(client, FULL);
    expect(knobs.getTuning(client)).toMatchObject(FULL_STATE);
  });

  test('a refusal after connect destroys the socket with the SyscallError', async () => {
    const server = await unixServer();
    const socket = track(net.connect(server.address()));
    knobs.tuneOnConnect(socket, { userTimeout: 1000 });
    const err = await new Promise((resolve) => socket.once('error', resolve));
    expect(err).toBeInstanceOf(knobs.SyscallError);
    expect(err.option).toBe('TCP_USER_TIMEOUT');
    expect(socket.destroyed).toBe(true);
  });

  test('on a socket already connected, a refusal is thrown to the caller (nothing is destroyed)', async () => {
    const server = await unixServer();
    const socket = track(net.connect(server.address()));
    await new Promise((resolve) => socket.once('connect', resolve));
    const err = thrown(() => knobs.tuneOnConnect(socket, { userTimeout: 1000 }));
    expect(err).toBeInstanceOf(knobs.SyscallError);
    expect(socket.destroyed).toBe(false);
  });

  testIf(noIPv6(), 'with autoSelectFamily, only the socket that finally connects is tuned, and it keeps the tuning', async () => {
    const path = await silentFirstAddress();
    try {
      const socket = path.connect();
      knobs.tuneOnConnect(socket, FULL);
      await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      expect(socket.remoteAddress).toBe('127.0.0.1');
      expect(knobs.getTuning(socket)).toMatchObject(FULL_STATE);
    } finally {
      path.close();
    }
  });
});
