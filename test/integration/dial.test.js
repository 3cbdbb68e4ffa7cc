'use strict';
// dial(), dialAgent(), dialConnector() and listen()'s pre-bind hooks, against real servers on
// loopback: every option read back from the kernel on the socket that connected.
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const tls = require('node:tls');
const knobs = require('../..');
const { closeAll, track, listen, selfSignedCert, silentFirstAddress, noIPv6, noOpenssl, testIf, waitFor, emulated } = require('../helpers');

afterEach(closeAll);

const openFds = () => fs.readdirSync('/proc/self/fd').length;

async function echoServer() {
  const server = track(net.createServer((s) => track(s).pipe(s)));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function roundTrip(socket, text = 'ping') {
  return new Promise((resolve, reject) => {
    socket.once('data', (d) => resolve(String(d)));
    socket.once('error', reject);
    socket.write(text);
  });
}

describe('dial()', () => {
  test('a host name or an IP literal: connected, behaving as net.connect()’s socket, with every option in place', async () => {
    const server = await echoServer();
    for (const host of ['localhost', '127.0.0.1']) {
      const socket = track(
        await knobs.dial({
          host,
          port: server.address().port,
          family: 4,
          synRetries: 2,
          timeout: '5s',
          tuning: { receiveBufferSize: 4096, keepAlive: { idle: 61, interval: 11, count: 4 }, userTimeout: 45000 },
        }),
      );
      expect(socket).toBeInstanceOf(net.Socket);
      expect(socket.remoteAddress).toBe('127.0.0.1');
      expect(socket.timeout).toBe(5000);
      expect(knobs.getsockopt(socket, 'IPPROTO_TCP', 'TCP_SYNCNT')).toBe(2);
      expect(knobs.getTuning(socket)).toMatchObject({
        keepAlive: { enable: true, idle: 61, interval: 11, count: 4 },
        userTimeout: 45000,
        receiveBufferSize: 8192,
      });
      expect(await roundTrip(socket)).toBe('ping');
    }
  });

  testIf(emulated('TCP_INFO'), 'a receive buffer set before the SYN: the window scale negotiated is the smallest', async () => {
    const server = await echoServer();
    const small = track(await knobs.dial({ host: '127.0.0.1', port: server.address().port, tuning: { receiveBufferSize: 4096 } }));
    const plain = track(await knobs.dial({ host: '127.0.0.1', port: server.address().port }));
    expect(knobs.getTcpInfo(small).rcvWscale).toBe(0);
    expect(knobs.getTcpInfo(plain).rcvWscale).toBeGreaterThan(0);
  });

  testIf(noOpenssl(), 'tls.connect({ socket }) on top of a dialed socket', async () => {
    const { key, cert } = selfSignedCert();
    const server = track(tls.createServer({ key, cert }, (s) => s.pipe(s)));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = await knobs.dial({ host: '127.0.0.1', port: server.address().port, synRetries: 3 });
    const secure = track(tls.connect({ socket, ca: cert, servername: 'localhost' }));
    await new Promise((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    expect(await roundTrip(secure)).toBe('ping');
    expect(knobs.getsockopt(secure, 'IPPROTO_TCP', 'TCP_SYNCNT')).toBe(3);
  });

  testIf(noIPv6(), 'racing: the first address never answers, the second connects with the options; the loser is closed', async () => {
    const path_ = await silentFirstAddress();
    try {
      const before = openFds();
      const socket = await knobs.dial({
        host: 'two-addresses.test',
        port: path_.port,
        lookup: (host, options, callback) =>
          callback(null, [
            { address: '::1', family: 6 },
            { address: '127.0.0.1', family: 4 },
          ]),
        attemptDelay: 100,
        synRetries: 3,
      });
      expect(socket.remoteAddress).toBe('127.0.0.1');
      expect(knobs.getsockopt(socket, 'IPPROTO_TCP', 'TCP_SYNCNT')).toBe(3); // not the default 6: our socket, not Node's
      await waitFor(() => openFds() <= before + 1, { what: 'the losing attempt closed' });
      socket.destroy();
    } finally {
      path_.close();
    }
  });

  testIf(noIPv6(), 'connectTimeout aborts the whole race with ETIMEDOUT, and leaves no fd', async () => {
    const path_ = await silentFirstAddress();
    try {
      const before = openFds();
      const started = Date.now();
      const err = await knobs.dial({ host: '::1', port: path_.port, connectTimeout: 300 }).then(
        () => null,
        (e) => e,
      );
      expect(err).toBeInstanceOf(knobs.SyscallError);
      expect(err.code).toBe('ETIMEDOUT');
      expect(err.message).toMatch(/within 300 ms/);
      expect(Date.now() - started).toBeLessThan(2000);
      await waitFor(() => openFds() <= before, { what: 'every attempt closed' });
    } finally {
      path_.close();
    }
  });

  test('every address refused: a typed error naming each', async () => {
    const server = await listen();
    const port = server.address().port;
    await new Promise((resolve) => server.close(resolve));
    const err = await knobs
      .dial({
        host: 'both.test',
        port,
        lookup: (h, o, cb) =>
          cb(null, [
            { address: '127.0.0.1', family: 4 },
            { address: '127.0.0.2', family: 4 },
          ]),
      })
      .then(
        () => null,
        (e) => e,
      );
    expect(err).toBeInstanceOf(knobs.SyscallError);
    expect(err.code).toBe('ECONNREFUSED');
    expect(err.message).toMatch(/2 addresses tried: 127\.0\.0\.1 ECONNREFUSED, 127\.0\.0\.2 ECONNREFUSED/);
    const notFound = await knobs.dial({ host: 'no-such-host.invalid', port: 80 }).then(
      () => null,
      (e) => e,
    );
    expect(notFound).toBeInstanceOf(knobs.SyscallError);
    expect(notFound.syscall).toBe('getaddrinfo');
    // The code Node's own lookup gives the same name (ENOTFOUND for a name that does not exist).
    const nodeErr = await require('node:dns')
      .promises.lookup('no-such-host.invalid')
      .then(
        () => null,
        (e) => e,
      );
    expect(notFound.code).toBe(nodeErr.code);
  });

  test('a name with one address: one attempt (no race), whose outcome is the IP literal dial’s, field for field; every fd closed', async () => {
    const server = await echoServer();
    const open = server.address().port;
    const closed = await listen();
    const refused = closed.address().port;
    await new Promise((resolve) => closed.close(resolve));
    const answers = [
      (h, o, cb) => process.nextTick(() => cb(null, [{ address: '127.0.0.1', family: 4 }])), // as dns.lookup with all
      (h, o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]), // synchronously
    ];
    const control = () => {
      throw new Error('control refused');
    };
    const cases = [
      { port: open, synRetries: 2, tuning: { receiveBufferSize: 65536, keepAlive: { idle: '45s' } } },
      { port: open },
      { port: refused, synRetries: 2 },
      { port: refused },
      { port: open, control },
      { port: open, tuning: { congestionControl: 'no-such-algorithm' } },
    ];
    const outcome = async (options) => {
      const before = openFds();
      const result = await knobs.dial(options).then(
        (socket) => {
          const seen = {
            connected: true,
            synRetries: knobs.getsockopt(socket, 'IPPROTO_TCP', 'TCP_SYNCNT'),
            receiveBuffer: knobs.getReceiveBufferSize(socket),
            keepAlive: knobs.getKeepAlive(socket),
          };
          socket.destroy();
          return seen;
        },
        (err) => ({
          name: err.constructor.name,
          code: err.code,
          errno: err.errno,
          syscall: err.syscall,
          address: err.address,
          port: err.port,
          message: err.message,
        }),
      );
      // The server's side of a connection closes when the client's FIN arrives: wait for it.
      const fdsBack = await waitFor(() => openFds() <= before, { ms: 2000, what: 'the fds to be closed' }).then(
        () => true,
        () => false,
      );
      return { ...result, fdsBack };
    };
    for (const options of cases) {
      const literal = await outcome({ host: '127.0.0.1', ...options });
      for (const lookup of answers) expect({ options, named: await outcome({ host: 'one.test', lookup, ...options }) }).toEqual({ options, named: literal });
    }
  });

  test('a resolver that misbehaves: a typed error, or the first answer; never an uncaught exception', async () => {
    const server = await echoServer();
    const port = server.address().port;
    const outcome = (lookup) =>
      knobs.dial({ host: 'resolver.test', port, lookup }).then(
        (socket) => {
          socket.destroy();
          return 'connected';
        },
        (err) => err,
      );
    for (const later of [false, true]) {
      const answer = (result) => (h, o, cb) => (later ? setImmediate(() => cb(null, result)) : cb(null, result));
      const notArray = await outcome(answer('127.0.0.1'));
      expect(notArray).toBeInstanceOf(knobs.InvalidArgumentError);
      expect(notArray.message).toMatch(/options\.lookup.*array of \{ address, family \}/);
      const malformed = await outcome(answer([null, 1, { address: '127.0.0.1', family: 6 }, { address: '127.0.0.1' }]));
      expect(malformed.code).toBe('ENOTFOUND');
      expect(await outcome(answer([null, { address: '127.0.0.1', family: 4 }]))).toBe('connected');
    }
    // Called back twice: the first answer counts.
    expect(
      await outcome((h, o, cb) => {
        cb(null, [{ address: '127.0.0.1', family: 4 }]);
        setImmediate(() => cb(null, 'late and wrong'));
      }),
    ).toBe('connected');
    // One that answers at once, then throws (the attempt has already started on its answer): the
    // answer counts, and the throw is not a second outcome.
    expect(
      await outcome((h, o, cb) => {
        cb(null, [{ address: '127.0.0.1', family: 4 }]);
        throw new Error('after the answer');
      }),
    ).toBe('connected');
    // A resolver that throws: its own error, as a rejection.
    const own = new TypeError('a bug in the resolver');
    expect(
      await outcome(() => {
        throw own;
      }),
    ).toBe(own);
  });

  testIf(
    emulated('IP_BIND_ADDRESS_NO_PORT'),
    'localAddress with bindAddressNoPort; control(fd) runs before connect; a control that throws closes the fd',
    async () => {
      const server = await echoServer();
      const seen = [];
      const socket = track(
        await knobs.dial({
          host: '127.0.0.1',
          port: server.address().port,
          localAddress: '127.0.0.1',
          bindAddressNoPort: true,
          control: (fd) => {
            seen.push(knobs.getsockopt(fd, 'IPPROTO_IP', 'IP_BIND_ADDRESS_NO_PORT'));
            knobs.setsockopt(fd, 'IPPROTO_TCP', 'TCP_MAXSEG', 1000);
          },
        }),
      );
      expect(seen).toEqual([1]);
      expect(socket.localAddress).toBe('127.0.0.1');
      expect(knobs.getTcpInfo(socket).sndMss).toBeLessThanOrEqual(1000);
      const before = openFds();
      const boom = new Error('control refused');
      await expect(
        knobs.dial({
          host: '127.0.0.1',
          port: server.address().port,
          control: () => {
            throw boom;
          },
        }),
      ).rejects.toBe(boom);
      expect(openFds()).toBe(before);
    },
  );

  test('bad input: typed errors before any socket exists', async () => {
    const before = openFds();
    const cases = [
      [{ port: 80 }, 'ERR_INVALID_ARG_TYPE'],
      [{ host: 'x', port: 0 }, 'ERR_OUT_OF_RANGE'],
      [{ host: 'x', port: 80, family: 5 }, 'ERR_INVALID_ARG_VALUE'],
      [{ host: 'x', port: 80, synRetries: 0 }, 'ERR_OUT_OF_RANGE'],
      [{ host: 'x', port: 80, synRetries: 128 }, 'ERR_OUT_OF_RANGE'],
      [{ host: 'x', port: 80, bindAddressNoPort: true }, 'ERR_INVALID_ARG_VALUE'],
      [{ host: 'x', port: 80, localAddress: '127.0.0.1', localPort: 5000, bindAddressNoPort: true }, 'ERR_INVALID_ARG_VALUE'],
      [{ host: 'x', port: 80, localAddress: 'not-an-ip' }, 'ERR_INVALID_ARG_VALUE'],
      [{ host: 'x', port: 80, connectTimeout: '1.5ms' }, 'ERR_INVALID_ARG_VALUE'],
      [{ host: 'x', port: 80, control: 5 }, 'ERR_INVALID_ARG_TYPE'],
      [{ host: 'x', port: 80, tuning: { keepalive: 1 } }, 'ERR_INVALID_ARG_VALUE'],
      [{ host: 'x', port: 80, synretries: 1 }, 'ERR_INVALID_ARG_VALUE'],
    ];
    for (const [options, code] of cases) {
      const err = await knobs.dial(options).then(
        () => null,
        (e) => e,
      );
      expect({ options, code: err && err.code }).toEqual({ options, code });
    }
    expect(openFds()).toBe(before);
  });
});

describe('the clients that open sockets for you', () => {
  test('dialAgent(http.Agent): real requests on dialed sockets, the tuning kept across pool reuse', async () => {
    const server = track(http.createServer((req, res) => res.end(String(knobs.getsockopt(req.socket, 'IPPROTO_TCP', 'TCP_MAXSEG')))));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = knobs.dialAgent(new http.Agent({ keepAlive: true, maxSockets: 1 }), {
      synRetries: 2,
      tuning: { keepAlive: { idle: 61, interval: 11, count: 4 } },
    });
    const sockets = [];
    for (let i = 0; i < 3; i++) {
      sockets.push(
        await new Promise((resolve, reject) => {
          const req = http.get({ host: '127.0.0.1', port: server.address().port, agent }, (res) => res.resume().on('end', () => resolve(req.socket)));
          req.on('error', reject);
        }),
      );
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(new Set(sockets).size).toBe(1);
    expect(knobs.getsockopt(sockets[0], 'IPPROTO_TCP', 'TCP_SYNCNT')).toBe(2);
    expect(knobs.getKeepAlive(sockets[0])).toEqual({ enable: true, idle: 61, interval: 11, count: 4 });
    agent.destroy();
  });

  testIf(noOpenssl(), 'dialAgent(https.Agent): TLS kept, with the agent’s own TLS options', async () => {
    const { key, cert } = selfSignedCert();
    const server = track(https.createServer({ key, cert }, (req, res) => res.end('ok')));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = knobs.dialAgent(new https.Agent({ keepAlive: true, ca: cert }), { synRetries: 2 });
    const socket = await new Promise((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port: server.address().port, servername: 'localhost', agent }, (res) =>
        res.resume().on('end', () => resolve(req.socket)),
      );
      req.on('error', reject);
    });
    expect(socket.authorized).toBe(true);
    expect(knobs.getsockopt(socket, 'IPPROTO_TCP', 'TCP_SYNCNT')).toBe(2);
    agent.destroy();
  });

  test('dialConnector() for undici: real requests, pre-connect options on the socket, observable', async () => {
    const undici = require('undici');
    const server = track(http.createServer((req, res) => res.end(String(knobs.getsockopt(req.socket, 'IPPROTO_TCP', 'TCP_MAXSEG')))));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const seen = [];
    const connect = knobs.dialConnector({ synRetries: 2, control: (fd) => knobs.setsockopt(fd, 'IPPROTO_TCP', 'TCP_MAXSEG', 1200) });
    const observer = knobs.observe(connect, { interval: 60000, onSample: () => {} });
    const dispatcher = new undici.Agent({
      connect: (options, callback) => connect(options, (err, socket) => (socket && seen.push(socket), callback(err, socket))),
    });
    const res = await undici.request(`http://127.0.0.1:${server.address().port}/`, { dispatcher });
    expect(Number(await res.body.text())).toBeLessThanOrEqual(1200);
    expect(knobs.getsockopt(seen[0], 'IPPROTO_TCP', 'TCP_SYNCNT')).toBe(2);
    expect(observer.connections).toBe(1);
    observer.stop();
    await dispatcher.close();
  });
});

describe('listen() before bind(): control, tuning, mptcp', () => {
  test('control(fd) runs before bind; tuning means listen() then tuneServer()', async () => {
    const seen = [];
    const accepted = [];
    const server = track(net.createServer((s) => accepted.push(track(s))));
    await knobs.listen(server, {
      port: 0,
      host: '127.0.0.1',
      control: (fd) => seen.push(knobs.getsockopt(fd, 'SOL_SOCKET', 'SO_REUSEADDR')),
      tuning: { keepAlive: { idle: 61 }, priority: 5 },
    });
    expect(seen).toEqual([1]);
    const client = track(net.connect(server.address().port, '127.0.0.1'));
    await new Promise((resolve) => client.once('connect', resolve));
    await waitFor(() => accepted.length === 1);
    // priority is not inherited: tuneServer set it on the accepted socket.
    expect(knobs.getTuning(accepted[0])).toMatchObject({ keepAlive: { enable: true, idle: 61 }, priority: 5 });
  });

  const mptcp = (() => {
    try {
      return fs.readFileSync('/proc/sys/net/mptcp/enabled', 'utf8').trim() === '1' ? null : 'net.mptcp.enabled is 0 here';
    } catch {
      return 'this kernel has no MPTCP';
    }
  })();
  testIf(mptcp, 'mptcp: listen({ mptcp }) and dial({ mptcp }): both ends run Multipath TCP (TCP_IS_MPTCP)', async () => {
    const accepted = [];
    const server = track(net.createServer((s) => accepted.push(track(s).pipe(s))));
    await knobs.listen(server, { port: 0, host: '127.0.0.1', mptcp: true });
    const socket = track(await knobs.dial({ host: '127.0.0.1', port: server.address().port, mptcp: true }));
    expect(await roundTrip(socket)).toBe('ping');
    expect(knobs.getsockopt(socket, 'IPPROTO_TCP', 'TCP_IS_MPTCP')).toBe(1);
    expect(knobs.getsockopt(accepted[0], 'IPPROTO_TCP', 'TCP_IS_MPTCP')).toBe(1);
    // A plain TCP socket says 0.
    const plain = track(await knobs.dial({ host: '127.0.0.1', port: server.address().port }));
    expect(knobs.getsockopt(plain, 'IPPROTO_TCP', 'TCP_IS_MPTCP')).toBe(0);
  });
});
