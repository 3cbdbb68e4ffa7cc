'use strict';
// Every error kind, with the inputs a careless caller sends. Each case checks the class, the code,
// the fields, and that nothing changed in the kernel (read back before and after).
const fs = require('node:fs');
const net = require('node:net');
const knobs = require('../..');
const { tcpPair, udpSocket, unixServer, listen, closeAll, thrown, silentFirstAddress, noIPv6, testIf, waitFor } = require('../helpers');

const { SocketOptionError, InvalidArgumentError, UnsupportedOptionError, SyscallError, SocketStateError } = knobs;

afterEach(closeAll);

const LINUX = process.platform === 'linux';

function expectError(err, Class, code) {
  expect(err).toBeInstanceOf(Class);
  expect(err).toBeInstanceOf(SocketOptionError);
  expect(err).toBeInstanceOf(Error);
  expect(err.code).toBe(code);
  expect(err.name).toBe(Class.name);
  expect(typeof err.message).toBe('string');
  return err;
}

describe('InvalidArgumentError: refused before any syscall, nothing changes', () => {
  let client;
  let before;
  beforeEach(async () => {
    ({ client } = await tcpPair());
    knobs.setKeepAlive(client, { idle: 100, interval: 20, count: 5 });
    before = knobs.getKeepAlive(client);
  });
  afterEach(() => {
    expect(knobs.getKeepAlive(client)).toEqual(before);
  });

  test.each([
    ['a string without a unit', { idle: '60' }, 'ERR_INVALID_ARG_VALUE', 'options.idle'],
    ['a boolean', { idle: true }, 'ERR_INVALID_ARG_TYPE', 'options.idle'],
    ['a duration that is not whole seconds', { idle: '1500ms' }, 'ERR_INVALID_ARG_VALUE', 'options.idle'],
    ['a BigInt', { interval: 10n }, 'ERR_INVALID_ARG_TYPE', 'options.interval'],
    ['null', { count: null }, 'ERR_INVALID_ARG_TYPE', 'options.count'],
    ['a number for enable', { enable: 1 }, 'ERR_INVALID_ARG_TYPE', 'options.enable'],
    ['NaN', { idle: NaN }, 'ERR_OUT_OF_RANGE', 'options.idle'],
    ['Infinity', { interval: Infinity }, 'ERR_OUT_OF_RANGE', 'options.interval'],
    ['negative', { count: -1 }, 'ERR_OUT_OF_RANGE', 'options.count'],
    ['zero', { idle: 0 }, 'ERR_OUT_OF_RANGE', 'options.idle'],
    ['-0', { idle: -0 }, 'ERR_OUT_OF_RANGE', 'options.idle'],
    ['fractional', { interval: 1.5 }, 'ERR_OUT_OF_RANGE', 'options.interval'],
    ['an unknown field (a typo)', { intervall: 5 }, 'ERR_INVALID_ARG_VALUE', 'options.intervall'],
    ['a non-object', 60, 'ERR_INVALID_ARG_TYPE', 'options'],
  ])('setKeepAlive with %s', (_, options, code, argument) => {
    const err = expectError(
      thrown(() => knobs.setKeepAlive(client, options)),
      InvalidArgumentError,
      code,
    );
    expect(err.argument).toBe(argument);
    expect(err.message).toContain(argument);
  });

  if (LINUX) {
    test.each([
      ['TCP_KEEPCNT above 127', { count: 128 }, 'options.count'],
      ['TCP_KEEPIDLE above 32767', { idle: 32768 }, 'options.idle'],
      ['TCP_KEEPINTVL above 32767', { interval: 32768 }, 'options.interval'],
    ])("%s (Linux's limit)", (_, options, argument) => {
      const err = expectError(
        thrown(() => knobs.setKeepAlive(client, options)),
        InvalidArgumentError,
        'ERR_OUT_OF_RANGE',
      );
      expect(err.argument).toBe(argument);
    });
  }

  test('a bad field after good ones: the good ones are not applied either', () => {
    expectError(
      thrown(() => knobs.setKeepAlive(client, { enable: false, idle: 10, count: 500 })),
      InvalidArgumentError,
      'ERR_OUT_OF_RANGE',
    );
  });

  test('a getter that throws, or a Proxy trap that throws, becomes an InvalidArgumentError', () => {
    const hostile = {
      get idle() {
        throw new Error('boom');
      },
    };
    expectError(
      thrown(() => knobs.setKeepAlive(client, hostile)),
      InvalidArgumentError,
      'ERR_INVALID_ARG_VALUE',
    );
    const trap = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('trap');
        },
      },
    );
    expectError(
      thrown(() => knobs.setKeepAlive(client, trap)),
      InvalidArgumentError,
      'ERR_INVALID_ARG_VALUE',
    );
  });

  test('typed setters check their value', () => {
    expectError(
      thrown(() => knobs.setReuseAddress(client, 1)),
      InvalidArgumentError,
      'ERR_INVALID_ARG_TYPE',
    );
    expectError(
      thrown(() => knobs.setNoDelay(client, 'yes')),
      InvalidArgumentError,
      'ERR_INVALID_ARG_TYPE',
    );
    expectError(
      thrown(() => knobs.setUserTimeout(client, -1)),
      InvalidArgumentError,
      'ERR_OUT_OF_RANGE',
    );
    expectError(
      thrown(() => knobs.setUserTimeout(client, 2 ** 31)),
      InvalidArgumentError,
      'ERR_OUT_OF_RANGE',
    );
    expectError(
      thrown(() => knobs.setReceiveBufferSize(client, -5)),
      InvalidArgumentError,
      'ERR_OUT_OF_RANGE',
    );
    expectError(
      thrown(() => knobs.setLinger(client, { seconds: 5 })),
      InvalidArgumentError,
      'ERR_INVALID_ARG_TYPE',
    );
    expectError(
      thrown(() => knobs.setLinger(client, { enable: true, seconds: -1 })),
      InvalidArgumentError,
      'ERR_OUT_OF_RANGE',
    );
    expect(knobs.getUserTimeout(client)).toBe(0);
    expect(knobs.getLinger(client)).toEqual({ enable: false, seconds: 0 });
  });

  test('raw setsockopt / getsockopt check level, option, value and length', () => {
    expectError(
      thrown(() => knobs.setsockopt(client, {}, 'TCP_KEEPCNT', 3)),
      InvalidArgumentError,
      'ERR_INVALID_ARG_TYPE',
    );
    expectError(
      thrown(() => knobs.setsockopt(client, -6, 'TCP_KEEPCNT', 3)),
      InvalidArgumentError,
      'ERR_OUT_OF_RANGE',
    );
    expectError(
      thrown(() => knobs.setsockopt(client, 'TCP_KEEPCNT', 'TCP_KEEPCNT', 3)),
      InvalidArgumentError,
      'ERR_INVALID_ARG_VALUE',
    );
    expectError(
      thrown(() => knobs.setsockopt(client, 'IPPROTO_TCP', 'IPPROTO_TCP', 3)),
      InvalidArgumentError,
      'ERR_INVALID_ARG_VALUE',
    );
    expectError(
      thrown(() => knobs.setsockopt(client, 'IPPROTO_TCP', 'TCP_KEEPCNT', 3.5)),
      InvalidArgumentError,
      'ERR_OUT_OF_RANGE',
    );
    expectError(
      thrown(() => knobs.setsockopt(client, 'IPPROTO_TCP', 'TCP_KEEPCNT', 2 ** 31)),
      InvalidArgumentError,
      'ERR_OUT_OF_RANGE',
    );
    expectError(
      thrown(() => knobs.setsockopt(client, 'IPPROTO_TCP', 'TCP_KEEPCNT', '3')),
      InvalidArgumentError,
      'ERR_INVALID_ARG_TYPE',
    );
    expectError(
      thrown(() => knobs.setsockopt(client, 'IPPROTO_TCP', 'TCP_KEEPCNT', [3])),
      InvalidArgumentError,
      'ERR_INVALID_ARG_TYPE',
    );
    expectError(
      thrown(() => knobs.setsockopt(client, 'SOL_SOCKET', 'SO_LINGER', Buffer.alloc(65537))),
      InvalidArgumentError,
      'ERR_OUT_OF_RANGE',
    );
    expectError(
      thrown(() => knobs.getsockopt(client, 'SOL_SOCKET', 'SO_LINGER', 0)),
      InvalidArgumentError,
      'ERR_OUT_OF_RANGE',
    );
    expectError(
      thrown(() => knobs.getsockopt(client, 'SOL_SOCKET', 'SO_LINGER', 65537)),
      InvalidArgumentError,
      'ERR_OUT_OF_RANGE',
    );
    expectError(
      thrown(() => knobs.getsockopt(client, 'SOL_SOCKET', 'SO_LINGER', '8')),
      InvalidArgumentError,
      'ERR_INVALID_ARG_TYPE',
    );
    expectError(
      thrown(() => knobs.isSupported(4)),
      InvalidArgumentError,
      'ERR_INVALID_ARG_TYPE',
    );
  });

  test.each([
    ['-1', -1, 'ERR_OUT_OF_RANGE'],
    ['1.5', 1.5, 'ERR_OUT_OF_RANGE'],
    ['2**31', 2 ** 31, 'ERR_OUT_OF_RANGE'],
    ['NaN', NaN, 'ERR_OUT_OF_RANGE'],
    ["'3'", '3', 'ERR_INVALID_ARG_TYPE'],
    ['null', null, 'ERR_INVALID_ARG_TYPE'],
    ['a plain object', {}, 'ERR_INVALID_ARG_TYPE'],
  ])('the target %s is refused', (_, target, code) => {
    const err = expectError(
      thrown(() => knobs.setKeepAlive(target, { idle: 5 })),
      InvalidArgumentError,
      code,
    );
    expect(err.argument).toBe('target');
  });
});

describe('UnsupportedOptionError: the platform does not define it', () => {
  test('an option name the headers lack, by name and through the typed helper', async () => {
    const { client } = await tcpPair();
    const missing = LINUX ? 'TCP_KEEPALIVE' : 'TCP_USER_TIMEOUT';
    const err = expectError(
      thrown(() => knobs.setsockopt(client, 'IPPROTO_TCP', missing, 1)),
      UnsupportedOptionError,
      'ERR_SOCKET_OPTION_UNSUPPORTED',
    );
    expect(err.option).toBe(missing);
    expect(err.platform).toBe(process.platform);
  });

  test('a name socket-knobs has never heard of', async () => {
    const { client } = await tcpPair();
    const err = expectError(
      thrown(() => knobs.getsockopt(client, 'IPPROTO_TCP', 'TCP_KEEPIDEL')),
      UnsupportedOptionError,
      'ERR_SOCKET_OPTION_UNSUPPORTED',
    );
    expect(err.message).toMatch(/knows no constant/);
    expectError(
      thrown(() => knobs.getsockopt(client, '__proto__', 'TCP_KEEPIDLE')),
      UnsupportedOptionError,
      'ERR_SOCKET_OPTION_UNSUPPORTED',
    );
  });
});

describe('SyscallError: the kernel said no', () => {
  test('a value beyond the kernel limit through the raw setter: EINVAL, and nothing changed', async () => {
    const { client } = await tcpPair();
    const before = knobs.getsockopt(client, 'IPPROTO_TCP', 'TCP_KEEPCNT');
    const err = expectError(
      thrown(() => knobs.setsockopt(client, 'IPPROTO_TCP', 'TCP_KEEPCNT', 200)),
      SyscallError,
      'EINVAL',
    );
    expect(err).toMatchObject({ errno: -22, syscall: 'setsockopt', level: 'IPPROTO_TCP', option: 'TCP_KEEPCNT', value: 200 });
    expect(err.message).toBe('setsockopt(IPPROTO_TCP, TCP_KEEPCNT, 200) failed: EINVAL (invalid argument)');
    expect(knobs.getsockopt(client, 'IPPROTO_TCP', 'TCP_KEEPCNT')).toBe(before);
  });

  test('a UDP socket given TCP keepalive timing: ENOPROTOOPT, and the error lists what was applied', async () => {
    const udp = await udpSocket();
    const err = expectError(
      thrown(() => knobs.setKeepAlive(udp, { idle: 5, count: 3 })),
      SyscallError,
      'ENOPROTOOPT',
    );
    expect(err.option).toBe('TCP_KEEPIDLE');
    expect(err.applied).toEqual(['SO_KEEPALIVE']);
    expect(err.message).toMatch(/already applied: SO_KEEPALIVE$/);
    // getsockopt on the same level answers differently (ip_getsockopt): EOPNOTSUPP.
    expectError(
      thrown(() => knobs.getUserTimeout(udp)),
      SyscallError,
      'EOPNOTSUPP',
    );
  });

  test('a Unix-domain socket given a TCP option: EOPNOTSUPP', async () => {
    const server = await unixServer();
    const err = expectError(
      thrown(() => knobs.setNoDelay(server, true)),
      SyscallError,
      'EOPNOTSUPP',
    );
    expect(err.errno).toBe(-95);
    expect(err.syscall).toBe('setsockopt');
  });

  test('an fd that is not a socket: ENOTSOCK; a closed fd: EBADF', () => {
    const fd = fs.openSync(__filename, 'r');
    let err;
    try {
      err = expectError(
        thrown(() => knobs.getKeepAlive(fd)),
        SyscallError,
        'ENOTSOCK',
      );
    } finally {
      fs.closeSync(fd);
    }
    expect(err.syscall).toBe('getsockopt');
    expectError(
      thrown(() => knobs.setNoDelay(fd, true)),
      SyscallError,
      'EBADF',
    );
    expectError(
      thrown(() => knobs.getsockopt(2 ** 31 - 1, 'SOL_SOCKET', 'SO_TYPE')),
      SyscallError,
      'EBADF',
    );
  });

  test('a raw Buffer value too short for the option: EINVAL, value summarised', async () => {
    const { client } = await tcpPair();
    const err = expectError(
      thrown(() => knobs.setsockopt(client, 'SOL_SOCKET', 'SO_LINGER', Buffer.from([1, 2]))),
      SyscallError,
      'EINVAL',
    );
    expect(err.value).toBe('<2 bytes: 0102>');
  });
});

describe('SocketStateError: nothing to act on', () => {
  test('a socket that is still connecting has no fd yet', async () => {
    const server = await listen();
    const socket = net.connect(server.address().port, '127.0.0.1');
    try {
      const err = expectError(
        thrown(() => knobs.setKeepAlive(socket, { idle: 5 })),
        SocketStateError,
        'ERR_SOCKET_NO_FD',
      );
      expect(err.message).toMatch(/'connect' handler/);
      await new Promise((resolve) => socket.once('connect', resolve));
      knobs.setKeepAlive(socket, { idle: 5 });
      expect(knobs.getKeepAlive(socket).idle).toBe(5);
    } finally {
      socket.destroy();
    }
  });

  testIf(noIPv6(), 'a connecting socket whose fd exists is refused too: with autoSelectFamily Node replaces it, and what was set on it is lost', async () => {
    const path = await silentFirstAddress();
    try {
      const socket = path.connect();
      // The first attempt (::1, silent) has its fd once the lookup has run.
      await waitFor(() => socket._handle && socket._handle.fd > 2, { what: "the first attempt's fd" });
      expect(socket.connecting).toBe(true);
      expect(socket._handle.fd).toBeGreaterThan(2); // an fd exists, but it is the first attempt's
      const err = expectError(
        thrown(() => knobs.setKeepAlive(socket, { idle: 77, interval: 7, count: 7 })),
        SocketStateError,
        'ERR_SOCKET_NO_FD',
      );
      expect(err.message).toMatch(/still connecting/);
      expectError(
        thrown(() => knobs.setUserTimeout(socket, 5000)),
        SocketStateError,
        'ERR_SOCKET_NO_FD',
      );
      await new Promise((resolve) => socket.once('connect', resolve));
      expect(socket.remoteAddress).toBe('127.0.0.1');
      // After 'connect' the fd is the final one, and a value set now stays.
      knobs.setKeepAlive(socket, { idle: 77, interval: 7, count: 7 });
      expect(knobs.getKeepAlive(socket)).toEqual({ enable: true, idle: 77, interval: 7, count: 7 });
    } finally {
      path.close();
    }
  });

  test('a new net.Socket() has no handle at all', () => {
    const err = expectError(
      thrown(() => knobs.getKeepAlive(new net.Socket())),
      SocketStateError,
      'ERR_SOCKET_NO_FD',
    );
    expect(err.message).toMatch(/not connected/);
  });

  test('a destroyed socket: ERR_SOCKET_CLOSED, even though its fd number may be reused', async () => {
    const { client } = await tcpPair();
    client.destroy();
    expectError(
      thrown(() => knobs.setKeepAlive(client, { idle: 5 })),
      SocketStateError,
      'ERR_SOCKET_CLOSED',
    );
    expectError(
      thrown(() => knobs.getKeepAlive(client)),
      SocketStateError,
      'ERR_SOCKET_CLOSED',
    );
  });

  test('a server that is not listening, or closed', async () => {
    expectError(
      thrown(() => knobs.getReuseAddress(net.createServer())),
      SocketStateError,
      'ERR_SOCKET_NO_FD',
    );
    const server = await listen();
    await new Promise((resolve) => server.close(resolve));
    expectError(
      thrown(() => knobs.getReuseAddress(server)),
      SocketStateError,
      'ERR_SOCKET_NO_FD',
    );
  });

  test('an unbound or closed UDP socket', async () => {
    const unbound = require('node:dgram').createSocket('udp4');
    expectError(
      thrown(() => knobs.getReuseAddress(unbound)),
      SocketStateError,
      'ERR_SOCKET_NO_FD',
    );
    unbound.close();
    expectError(
      thrown(() => knobs.getReuseAddress(unbound)),
      SocketStateError,
      'ERR_SOCKET_CLOSED',
    );
  });
});

describe('errors are safe to log and serialize', () => {
  test('JSON.stringify shows every field and no socket is referenced', async () => {
    const { client } = await tcpPair();
    const err = thrown(() => knobs.setsockopt(client, 'IPPROTO_TCP', 'TCP_KEEPCNT', 500));
    const json = JSON.parse(JSON.stringify(err));
    expect(json).toEqual({
      name: 'SyscallError',
      message: err.message,
      code: 'EINVAL',
      errno: -22,
      syscall: 'setsockopt',
      level: 'IPPROTO_TCP',
      option: 'TCP_KEEPCNT',
      value: 500,
    });
    expect(String(err)).toBe(`SyscallError [EINVAL]: ${err.message}`);
    const huge = 'x'.repeat(100000);
    const typeErr = thrown(() => knobs.setKeepAlive(client, { idle: huge }));
    expect(JSON.stringify(typeErr).length).toBeLessThan(1000);
  });
});

// Windows itself (Node's sockets refused with ERR_SOCKET_NO_FD, listen() and dial() refused, typed)
// is tested in Windows node.exe under wine: test/release/runtimes.test.js.

test('Winsock codes map to names Node itself uses (the table the Windows errors are named from)', () => {
  const { winsockErrorName } = require('../../dist/modules/core/errors.js');
  const nodeNames = new Set([...require('node:util').getSystemErrorMap().values()].map(([name]) => name));
  const mapped = [];
  for (let code = 10000; code < 11100; code++) {
    const name = winsockErrorName(code);
    if (name) mapped.push([code, name]);
  }
  expect(mapped.length).toBeGreaterThan(30);
  expect(Object.fromEntries(mapped)).toMatchObject({
    10013: 'EACCES',
    10022: 'EINVAL',
    10038: 'ENOTSOCK',
    10042: 'ENOPROTOOPT',
    10048: 'EADDRINUSE',
    10061: 'ECONNREFUSED',
  });
  // A typo would leave a Windows error with a name Node never gives.
  expect(mapped.filter(([, name]) => !nodeNames.has(name) && name !== 'EOPNOTSUPP' && !name.startsWith('WSAE'))).toEqual([]);
  expect(winsockErrorName(22)).toBeUndefined();
});
