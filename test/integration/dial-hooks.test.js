'use strict';
// Issue 24 §2.6, §2.8, §2.9: a dialer's and a listener's hooks.
// - control(fd) is synchronous: a thenable is a typed error before anything is sent, and its
//   rejection is never an unhandled rejection (holds or throws);
// - fd identity: when control(fd) closed its fd and the number went to another file, that file is
//   never closed by socket-knobs (nothing acted on a number whose file changed);
// - undici's connector callback is called exactly once, whatever happens after the handshake, and
//   connectTimeout covers the TLS handshake.
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const knobs = require('../..');
const { closeAll, track, selfSignedCert, noOpenssl, testIf } = require('../helpers');

afterEach(closeAll);

const openFds = () => fs.readdirSync('/proc/self/fd').length;

/** A TCP server that counts the connections it accepts. */
async function countingServer() {
  const server = track(net.createServer((s) => track(s).on('error', () => {})));
  let accepted = 0;
  server.on('connection', () => accepted++);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, accepted: () => accepted };
}

/** Runs `fn` and collects unhandled rejections raised meanwhile (and on the next turns). */
async function collectUnhandled(fn) {
  const seen = [];
  const onUnhandled = (reason) => seen.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const result = await fn();
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { result, unhandled: seen };
  } finally {
    process.removeListener('unhandledRejection', onUnhandled);
  }
}

describe('control(fd) is synchronous', () => {
  const HOOKS = {
    'an async function that sets an option': () => async (fd) => knobs.setsockopt(fd, 'IPPROTO_TCP', 'TCP_NODELAY', 1),
    'a rejected promise': () => () => Promise.reject(new Error('the hook failed later')),
    'a thenable': () => () => ({ then: (ok, fail) => setImmediate(() => fail(new Error('thenable failed'))) }),
    'a thenable whose then throws': () => () => ({
      get then() {
        return () => {
          throw new Error('then threw');
        };
      },
    }),
  };

  test.each(Object.keys(HOOKS))('dial(): %s is a typed error; no SYN sent, no fd left, no unhandled rejection', async (kind) => {
    const { server, accepted } = await countingServer();
    const before = openFds();
    const { result, unhandled } = await collectUnhandled(() =>
      knobs.dial({ host: '127.0.0.1', port: server.address().port, control: HOOKS[kind]() }).then(
        () => 'connected',
        (err) => err,
      ),
    );
    expect(result).toBeInstanceOf(knobs.InvalidArgumentError);
    expect(result.message).toMatch(/options\.control.*returned a promise/);
    expect(unhandled).toEqual([]);
    expect(accepted()).toBe(0);
    expect(openFds()).toBeLessThanOrEqual(before); // none left (another test's may close meanwhile)
  });

  test.each(Object.keys(HOOKS))('listen(): %s is a typed error; nothing listens, no fd left, no unhandled rejection', async (kind) => {
    const before = openFds();
    const server = track(net.createServer());
    const { result, unhandled } = await collectUnhandled(() =>
      knobs.listen(server, { port: 0, host: '127.0.0.1', control: HOOKS[kind]() }).then(
        () => 'listening',
        (err) => err,
      ),
    );
    expect(result).toBeInstanceOf(knobs.InvalidArgumentError);
    expect(unhandled).toEqual([]);
    expect(server.listening).toBe(false);
    expect(openFds()).toBeLessThanOrEqual(before); // none left (another test's may close meanwhile)
  });
});

describe('fd identity: a number whose file changed is never acted on', () => {
  /** A control(fd) that closes its socket and opens a file that takes the same number. */
  function swapping(opened) {
    return (fd) => {
      fs.closeSync(fd);
      const other = fs.openSync('/dev/null', 'r');
      opened.push(other);
    };
  }

  test.each(['dial', 'listen'])('%s(): ERR_SOCKET_FD_CHANGED, and the file now under that number stays open', async (which) => {
    const { server } = await countingServer();
    const opened = [];
    const control = swapping(opened);
    const outcome =
      which === 'dial'
        ? knobs.dial({ host: '127.0.0.1', port: server.address().port, control })
        : knobs.listen(track(net.createServer()), { port: 0, host: '127.0.0.1', control });
    const err = await outcome.then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(knobs.SocketStateError);
    expect(err.code).toBe('ERR_SOCKET_FD_CHANGED');
    expect(opened).toHaveLength(1);
    // The other file is still open under its number: socket-knobs did not close it.
    expect(() => fs.fstatSync(opened[0])).not.toThrow();
    expect(fs.readlinkSync(`/proc/self/fd/${opened[0]}`)).toBe('/dev/null');
    fs.closeSync(opened[0]);
  });

  test('a control(fd) that only closes its fd: ERR_SOCKET_FD_CHANGED, not an untyped TypeError', async () => {
    const { server } = await countingServer();
    const err = await knobs.dial({ host: '127.0.0.1', port: server.address().port, control: (fd) => fs.closeSync(fd) }).then(
      () => null,
      (e) => e,
    );
    expect(err).toMatchObject({ code: 'ERR_SOCKET_FD_CHANGED' });
  });
});

describeTls();
function describeTls() {
  testIf(noOpenssl(), 'dialConnector(): the callback runs exactly once when the server resets right after the handshake', async () => {
    const { key, cert } = selfSignedCert();
    const tlsServer = track(
      require('node:tls').createServer({ key, cert }, (s) => {
        // SO_LINGER 0: destroy() sends a RST, an error on the client after its handshake.
        knobs.setLinger(s, { enable: true, seconds: 0 });
        setTimeout(() => s.destroy(), 5);
      }),
    );
    await new Promise((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    const connect = knobs.dialConnector({ tls: { ca: cert, servername: 'localhost' } });
    const calls = [];
    await new Promise((resolve) => {
      connect({ hostname: '127.0.0.1', host: '127.0.0.1', protocol: 'https:', port: tlsServer.address().port, servername: 'localhost' }, (err, socket) => {
        calls.push(err ? `error ${err.code}` : 'socket');
        if (socket) {
          // undici's own listener, as its client attaches one.
          socket.on('error', (e) => calls.push(`socket error ${e.code}`));
          socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
          socket.on('close', () => setTimeout(resolve, 20));
        } else resolve();
      });
    });
    // The callback ran once, with the socket; the reset (an ECONNRESET where the kernel reports one:
    // under qemu-user the connection may just end) went to the socket's own listener, never to the
    // connector's callback a second time.
    expect(calls[0]).toBe('socket');
    expect(calls.filter((c) => c.startsWith('error'))).toEqual([]);
    expect(calls.slice(1).every((c) => c === 'socket error ECONNRESET')).toBe(true);
  });

  test('dialConnector() and dialAgent(https): connectTimeout covers the TLS handshake (a server that never answers TLS)', async () => {
    const silent = track(net.createServer((s) => track(s).on('error', () => {}))); // accepts, never speaks
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = silent.address().port;
    const connect = knobs.dialConnector({ connectTimeout: 300 });
    const started = Date.now();
    const calls = [];
    const err = await new Promise((resolve) =>
      connect({ hostname: '127.0.0.1', host: '127.0.0.1', protocol: 'https:', port }, (e) => {
        calls.push(e);
        resolve(e);
      }),
    );
    expect(err).toMatchObject({ code: 'ETIMEDOUT' });
    expect(err.message).toMatch(/TLS session/);
    expect(Date.now() - started).toBeLessThan(5000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toHaveLength(1);

    const agent = knobs.dialAgent(new https.Agent(), { connectTimeout: 300 });
    const agentErr = await new Promise((resolve) => https.get({ host: '127.0.0.1', port, agent }, () => resolve(null)).on('error', resolve));
    expect(agentErr).toMatchObject({ code: 'ETIMEDOUT' });
    agent.destroy();
  });
}

void http;
