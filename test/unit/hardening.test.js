'use strict';
// Regression tests for what an adversarial run broke (issue 13): each case failed on the code
// before its fix. The fuzzer (test/fuzz/fuzz.js) generates the same classes of input at random.
const dgram = require('node:dgram');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const knobs = require('../..');
const { tcpPair, udpSocket, closeAll, thrown, track } = require('../helpers');

afterEach(closeAll);

const { InvalidArgumentError, SocketStateError, SyscallError } = knobs;
const openFds = () => fs.readdirSync('/proc/self/fd').length;

function revoked() {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

function isListening(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const c = net.connect(port, host);
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

describe('a revoked Proxy as an options object is an InvalidArgumentError, not a TypeError', () => {
  test.each([
    ['setKeepAlive', (t) => knobs.setKeepAlive(t, revoked())],
    ['setLinger', (t) => knobs.setLinger(t, revoked())],
    ['createListeningSocket', () => knobs.createListeningSocket(revoked())],
  ])('%s', async (name, call) => {
    const { client } = await tcpPair();
    const before = knobs.getKeepAlive(client);
    const err = thrown(() => call(client));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(knobs.getKeepAlive(client)).toEqual(before);
  });

  test('listen() rejects with it, and opens nothing', async () => {
    const before = openFds();
    await expect(knobs.listen(net.createServer(), revoked())).rejects.toMatchObject({ name: 'InvalidArgumentError', code: 'ERR_INVALID_ARG_VALUE' });
    expect(openFds()).toBe(before);
  });
});

describe('raw setsockopt: the bytes validated are the bytes sent', () => {
  test('a resizable buffer grown by a getter that runs after validation: the validated 4 bytes are sent', async () => {
    const { client } = await tcpPair();
    const buffer = new ArrayBuffer(4, { maxByteLength: 200000 });
    const view = new Uint8Array(buffer);
    new DataView(buffer).setInt32(0, 65536, true);
    // The target is read after the value was checked; its getter grows the value's buffer.
    const proxied = new Proxy(client, {
      get(object, key) {
        if (key === '_handle') buffer.resize(100000);
        const field = Reflect.get(object, key, object);
        return typeof field === 'function' ? field.bind(object) : field;
      },
    });
    knobs.setsockopt(proxied, 'SOL_SOCKET', 'SO_RCVBUF', view);
    expect(buffer.byteLength).toBe(100000);
    expect(knobs.getReceiveBufferSize(client)).toBe(131072); // 65536, doubled by Linux
  });

  test('a subclass lying about byteLength is measured by the intrinsic length: ERR_OUT_OF_RANGE', async () => {
    const { client } = await tcpPair();
    class Liar extends Uint8Array {
      get byteLength() {
        return 4;
      }
    }
    const err = thrown(() => knobs.setsockopt(client, 'SOL_SOCKET', 'SO_RCVBUF', new Liar(100000)));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.code).toBe('ERR_OUT_OF_RANGE');
  });

  test.each([
    ['Uint8Array', () => new Uint8Array(new ArrayBuffer(4))],
    ['Buffer', () => Buffer.alloc(4)],
    ['Buffer of length 0', () => Buffer.alloc(0)],
  ])('a detached %s is refused, never sent as zero bytes', async (name, make) => {
    const { client } = await tcpPair();
    knobs.setReceiveBufferSize(client, 65536);
    const view = make();
    structuredClone(view.buffer, { transfer: [view.buffer] });
    const err = thrown(() => knobs.setsockopt(client, 'SOL_SOCKET', 'SO_RCVBUF', view));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(err.message).toMatch(/detached/);
    expect(knobs.getReceiveBufferSize(client)).toBe(131072);
  });
});

describe('listen() settles, and leaves nothing behind, on every path', () => {
  test('server.close() right after listen(): rejects with ERR_SOCKET_CLOSED, no listener or fd left', async () => {
    const server = net.createServer();
    const before = openFds();
    const promise = knobs.listen(server, { port: 0, host: '127.0.0.1' });
    server.close();
    const err = await promise.then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(SocketStateError);
    expect(err.code).toBe('ERR_SOCKET_CLOSED');
    for (const event of ['listening', 'error', 'close']) expect(server.listenerCount(event)).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(openFds()).toBe(before);
  });

  test('a port getter that re-enters listen(): the inner call is refused, the outer one listens, close() leaves nothing', async () => {
    const server = track(net.createServer());
    const before = openFds();
    let inner;
    const options = {
      host: '127.0.0.1',
      get port() {
        inner = knobs.listen(server, { port: 0, host: '127.0.0.1' });
        return 0;
      },
    };
    await knobs.listen(server, options);
    await expect(inner).rejects.toMatchObject({ name: 'InvalidArgumentError', code: 'ERR_INVALID_ARG_VALUE' });
    const { port } = server.address();
    expect(await isListening(port)).toBe(true);
    await new Promise((resolve) => server.close(resolve));
    expect(await isListening(port)).toBe(false);
    expect(openFds()).toBe(before);
  });

  test('a server that starts listening by other means while listen() reads its options: the fd is closed', async () => {
    const server = track(net.createServer());
    const options = {
      host: '127.0.0.1',
      get port() {
        server.listen(0); // with no host Node binds at once, so the server is listening on return
        return 0;
      },
    };
    const before = openFds();
    await expect(knobs.listen(server, options)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await new Promise((resolve) => server.close(resolve));
    expect(openFds()).toBe(before);
  });
});

describe('errors stay small whatever the input', () => {
  const HUGE = 'x'.repeat(1 << 20);
  test.each([
    ['a 1 MiB option name', (t) => knobs.getsockopt(t, 'IPPROTO_TCP', HUGE)],
    ['a 1 MiB level name', (t) => knobs.setsockopt(t, HUGE, 'TCP_NODELAY', 1)],
    ['a 1 MiB unknown key', (t) => knobs.setKeepAlive(t, { [HUGE]: 1 })],
    ['a 1 MiB unknown key in listen options', () => knobs.createListeningSocket({ port: 0, [HUGE]: 1 })],
    ['a 1 MiB class name', () => knobs.getKeepAlive(new { [HUGE]: class {} }[HUGE]())],
    ['a 200 KB IPv6 scope id', () => knobs.createListeningSocket({ port: 0, host: `fe80::1%${'1'.repeat(200000)}` })],
    ['a 1 MiB host', () => knobs.createListeningSocket({ port: 0, host: HUGE })],
  ])('%s: under 1 KB as JSON', async (name, call) => {
    const { client } = await tcpPair();
    const err = thrown(() => call(client));
    expect(err).toBeInstanceOf(knobs.SocketOptionError);
    expect(JSON.stringify(err).length).toBeLessThan(1024);
    expect(String(err).length).toBeLessThan(1024);
  });

  test('a raw call with a numeric level names the level in its message', async () => {
    const { client } = await tcpPair();
    const err = thrown(() => knobs.setsockopt(client, 9999, 1, 1));
    expect(err).toBeInstanceOf(SyscallError);
    expect(err.level).toBe(9999);
    expect(err.message).toMatch(/^setsockopt\(9999, 1, 1\) failed: /);
  });
});

test('probe() under EMFILE says it could not open its sockets, instead of claiming the kernel refused', () => {
  const script = `
    const fs = require('fs');
    const knobs = require(${JSON.stringify(path.join(__dirname, '..', '..'))});
    const held = [];
    try { for (let i = 0; i < 100000; i++) held.push(fs.openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
    fs.closeSync(held.pop()); // one free fd: the first socket opens, the next ones cannot
    let out;
    try { out = { returned: knobs.probe() }; } catch (e) { out = { name: e.name, code: e.code, syscall: e.syscall, message: e.message }; }
    for (const fd of held) fs.closeSync(fd);
    console.log(JSON.stringify(out));
  `;
  const run = spawnSync('sh', ['-c', `ulimit -n 64 && exec "${process.execPath}" -e "$0"`, script], { encoding: 'utf8', timeout: 30000 });
  expect(run.status).toBe(0);
  const out = JSON.parse(run.stdout);
  expect(out).toMatchObject({ name: 'SyscallError', code: 'EMFILE', syscall: 'socket' });
  expect(out.message).toMatch(/probe\(\) could not open/);
});

describe('validation gaps', () => {
  test('a fake dgram.Socket with its own state symbol does not poison real UDP sockets (fresh process)', () => {
    const script = `
      const dgram = require('dgram');
      const knobs = require(${JSON.stringify(path.join(__dirname, '..', '..'))});
      const fake = Object.create(dgram.Socket.prototype);
      fake[Symbol('state symbol')] = { handle: null };
      let fakeCode; try { knobs.getReuseAddress(fake); } catch (e) { fakeCode = e.code; }
      const real = dgram.createSocket('udp4');
      real.bind(0, '127.0.0.1', () => {
        let result; try { result = knobs.getReuseAddress(real); } catch (e) { result = e.code; }
        console.log(JSON.stringify({ fakeCode, result }));
        real.close();
      });
    `;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000 });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ fakeCode: 'ERR_SOCKET_CLOSED', result: false });
  });

  test.each([18.7, 18 + 2 ** 32, NaN, Infinity, -0])('a socket whose handle holds fd %p is refused, never rounded onto a real fd', async (fd) => {
    const fake = new net.Socket();
    fake._handle = { fd };
    const err = thrown(() => knobs.getKeepAlive(fake));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
    const server = net.createServer();
    server._handle = { fd };
    expect(thrown(() => knobs.getReuseAddress(server)).code).toBe('ERR_INVALID_ARG_VALUE');
  });

  test.each(['fe80::1%4294967299', 'fe80::1%1%junk', 'fe80::1%', 'fe80::1%-1', 'fe80::1%0x1', '127.0.0.1%1'])('IPv6 scope id %s is refused', (host) => {
    const before = openFds();
    const err = thrown(() => knobs.createListeningSocket({ port: 0, host }));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(openFds()).toBe(before);
  });

  test('fields inherited from the options object prototype are never applied, enumerable or not', async () => {
    const { client } = await tcpPair();
    knobs.setKeepAlive(client, { idle: 100, interval: 20, count: 5 });
    knobs.setKeepAlive(client, Object.create({ idle: 5, interval: 6, count: 7 }));
    knobs.setKeepAlive(client, Object.create(Object.defineProperty({}, 'idle', { value: 9, enumerable: false })));
    expect(knobs.getKeepAlive(client)).toEqual({ enable: true, idle: 100, interval: 20, count: 5 });
    knobs.setLinger(client, Object.assign(Object.create({ seconds: 30 }), { enable: true }));
    expect(knobs.getLinger(client)).toEqual({ enable: true, seconds: 0 });
    const server = await knobs.listen(track(net.createServer()), Object.assign(Object.create({ reusePort: true }), { port: 0, host: '127.0.0.1' }));
    expect(knobs.getReusePort(server)).toBe(false);
  });

  test('real UDP sockets keep working after fakes were passed', async () => {
    const fake = Object.create(dgram.Socket.prototype);
    fake[Symbol('state symbol')] = { handle: { fd: 18.7 } };
    expect(thrown(() => knobs.getReuseAddress(fake)).code).toBe('ERR_INVALID_ARG_VALUE');
    const udp = await udpSocket();
    expect(typeof knobs.getReuseAddress(udp)).toBe('boolean');
  });
});
