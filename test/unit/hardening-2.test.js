'use strict';
// Regression tests for the second adversarial run (issue 16): each case failed on the code before
// its fix.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { closeAll, emulated, testIf } = require('../helpers');

afterEach(closeAll);

const ROOT = path.join(__dirname, '..', '..');

/** Runs `node [flags] -e code` (or a script) and returns its status and output. */
function node(args, options = {}) {
  return spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 30000, ...options });
}

// A connection on loopback, then getTcpInfo, in the child: the decoder really runs.
const USE = `
  const net = require('node:net');
  const server = net.createServer().listen(0, '127.0.0.1', () => {
    const c = net.connect(server.address().port, '127.0.0.1', () => {
      const info = knobs.getTcpInfo(c);
      console.log(JSON.stringify({ state: info.state, fields: Object.keys(info).length }));
      c.destroy();
      server.close();
    });
  });`;

describe('--disallow-code-generation-from-strings (item 1): the package loads and decodes TCP_INFO', () => {
  const FLAG = '--disallow-code-generation-from-strings';

  test.each([
    ['CommonJS, flag on the command line', [FLAG, '-e', `const knobs = require(${JSON.stringify(ROOT)});${USE}`], {}],
    ['CommonJS, flag through NODE_OPTIONS', ['-e', `const knobs = require(${JSON.stringify(ROOT)});${USE}`], { NODE_OPTIONS: FLAG }],
    [
      'ESM import(), flag on the command line',
      [
        FLAG,
        '--input-type=module',
        '-e',
        `const { default: knobs } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'index.mjs'))});${USE.replace("require('node:net')", "(await import('node:net')).default")}`,
      ],
      {},
    ],
  ])('%s', (name, args, env) => {
    expect.hasAssertions();
    const run = node(args, { env: { ...process.env, ...env } });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.state).toBe('ESTABLISHED');
    // The same program without the flag decodes exactly as many fields: the flag changes nothing.
    const plain = node(
      args.filter((a) => a !== FLAG),
      { env: process.env },
    );
    expect(JSON.parse(plain.stdout)).toEqual(out);
  });

  testIf(emulated('TCP_INFO'), 'under the flag, all of struct tcp_info is decoded', () => {
    const run = node([FLAG, '-e', `const knobs = require(${JSON.stringify(ROOT)});${USE}`]);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).fields).toBeGreaterThan(30);
  });

  test('the CLI', () => {
    expect.hasAssertions();
    const run = node([FLAG, path.join(ROOT, 'bin', 'socket-knobs.js'), '--json']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).options.length).toBeGreaterThan(10);
  });

  test('the no-addon path: require() works and says why', () => {
    expect.hasAssertions();
    // A copy of the package with no build/ and no prebuilds/: nothing to load.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-noaddon-'));
    try {
      fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
      fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
      fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
      const run = node([FLAG, '-e', `const knobs = require(${JSON.stringify(dir)}); console.log(JSON.stringify({ loadError: knobs.loadError() }))`], {
        env: { ...process.env, PREBUILDS_ONLY: '1' },
      });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(JSON.parse(run.stdout).loadError).toMatch(/No native build was found/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('http2 sessions (item 2): tuneOnConnect(session) instead of its socket Proxy', () => {
  const http2 = require('node:http2');
  const knobs = require('../..');
  const { track } = require('../helpers');
  const TUNING = { keepAlive: { idle: 61, interval: 11, count: 4 }, noDelay: true };

  async function h2Server(onSession) {
    const server = track(http2.createServer((req, res) => res.end('ok')));
    if (onSession) server.on('session', onSession);
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return server;
  }
  function request(session) {
    return new Promise((resolve, reject) => {
      const req = session.request({ ':path': '/' });
      req.on('error', reject);
      req.resume();
      req.on('end', resolve);
      req.end();
    });
  }

  test("a client session still connecting: tuned at 'connect', holding after a request", async () => {
    expect.hasAssertions();
    const server = await h2Server();
    const session = track(http2.connect(`http://127.0.0.1:${server.address().port}`));
    expect(session.connecting).toBe(true);
    expect(knobs.tuneOnConnect(session, TUNING)).toBe(session);
    await request(session);
    const state = knobs.getTuning(session.socket);
    expect(state.keepAlive).toEqual({ enable: true, idle: 61, interval: 11, count: 4 });
    expect(state.noDelay).toBe(true);
  });

  test("a refusal at 'connect' destroys the session with the SyscallError: its 'error' event, the process lives", async () => {
    expect.hasAssertions();
    const server = await h2Server();
    const session = track(http2.connect(`http://127.0.0.1:${server.address().port}`));
    knobs.tuneOnConnect(session, { congestionControl: 'no-such-cc' });
    const err = await new Promise((resolve) => session.once('error', resolve));
    expect(err).toBeInstanceOf(knobs.SyscallError);
    expect(err.code).toBe('ENOENT');
    expect(session.destroyed).toBe(true);
  });

  test("a server session (in 'session'): tuned at once; a refusal there throws to the caller", async () => {
    expect.hasAssertions();
    const seen = [];
    const server = await h2Server((session) => {
      knobs.tuneOnConnect(session, TUNING);
      seen.push(knobs.getTuning(session.socket).keepAlive);
      try {
        knobs.tuneOnConnect(session, { congestionControl: 'no-such-cc' });
        seen.push('no error');
      } catch (err) {
        seen.push(err.code);
      }
    });
    const session = track(http2.connect(`http://127.0.0.1:${server.address().port}`));
    await request(session);
    expect(seen).toEqual([{ enable: true, idle: 61, interval: 11, count: 4 }, 'ENOENT']);
  });

  test("the session's socket Proxy alone is a typed error naming the session, before anything is registered", async () => {
    expect.hasAssertions();
    const server = await h2Server();
    const session = track(http2.connect(`http://127.0.0.1:${server.address().port}`));
    const err = (() => {
      try {
        knobs.tuneOnConnect(session.socket, TUNING);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(knobs.InvalidArgumentError);
    expect(err.message).toMatch(/http2 session's socket.*tuneOnConnect\(session, tuning\)/);
    await request(session); // and the session works
  });

  test('a destroyed session: ERR_SOCKET_CLOSED', async () => {
    expect.hasAssertions();
    const server = await h2Server();
    const session = http2.connect(`http://127.0.0.1:${server.address().port}`);
    session.on('error', () => {});
    session.destroy();
    expect(() => knobs.tuneOnConnect(session, TUNING)).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_CLOSED' }));
  });
});

describe('agents (items 4 and 5)', () => {
  const http = require('node:http');
  const https = require('node:https');
  const knobs = require('../..');
  const { track, selfSignedCert, noOpenssl, testIf } = require('../helpers');
  const TUNING = { keepAlive: { idle: 61, interval: 11, count: 4 }, userTimeout: 45000 };
  const get = (agent, port) =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(req.socket));
      });
      req.on('error', reject);
    });

  test('4. tuneAgent tunes the sockets already pooled: the next request runs on a tuned socket', async () => {
    const server = track(http.createServer((req, res) => res.end('ok')));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await get(agent, server.address().port);
    await new Promise((resolve) => setImmediate(resolve)); // back in the pool
    expect(Object.values(agent.freeSockets).flat()).toContain(first);
    expect(knobs.getTuning(first).userTimeout).toBe(0);
    knobs.tuneAgent(agent, TUNING);
    expect(knobs.getTuning(first)).toMatchObject({ keepAlive: { enable: true, idle: 61, interval: 11, count: 4 }, userTimeout: 45000 });
    const second = await get(agent, server.address().port);
    expect(second).toBe(first);
    expect(knobs.getTuning(second).userTimeout).toBe(45000);
    agent.destroy();
  });

  test('5. agent.createConnection(port, host, listener): the listener is called, the socket tuned', async () => {
    const server = track(http.createServer((req, res) => res.end('ok')));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = knobs.tuneAgent(new http.Agent(), TUNING);
    const socket = await new Promise((resolve) => {
      const s = agent.createConnection(server.address().port, '127.0.0.1', () => resolve(s));
    });
    track(socket);
    expect(knobs.getTuning(socket).userTimeout).toBe(45000);
  });

  testIf(noOpenssl(), '5. https agent.createConnection(port, host, options): the TLS options in the third argument are kept', async () => {
    const { key, cert } = selfSignedCert();
    const server = track(https.createServer({ key, cert }, (req, res) => res.end('ok')));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = knobs.tuneAgent(new https.Agent(), TUNING);
    // Without `ca` and `servername` the self-signed certificate is refused: they must arrive.
    const socket = track(agent.createConnection(server.address().port, '127.0.0.1', { ca: cert, servername: 'localhost' }));
    await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    expect(socket.authorized).toBe(true);
    expect(knobs.getTuning(socket).userTimeout).toBe(45000);
  });
});

describe('tuneOnConnect on sockets (items 6 and 7)', () => {
  const net = require('node:net');
  const knobs = require('../..');
  const { listen, track } = require('../helpers');

  test('6. a destroyed socket: ERR_SOCKET_CLOSED, like every other call', async () => {
    const server = await listen();
    const socket = track(net.connect(server.address().port, '127.0.0.1'));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.destroy();
    expect(() => knobs.tuneOnConnect(socket, { noDelay: true })).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_CLOSED' }));
    const never = track(new net.Socket());
    never.destroy();
    expect(() => knobs.tuneOnConnect(never, { noDelay: true })).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_CLOSED' }));
  });

  test('7. 10,000 calls on a connecting socket: one listener (no MaxListenersExceededWarning), and the last tuning applied whole', async () => {
    {
      const server = await listen();
      const socket = track(net.connect(server.address().port, '127.0.0.1'));
      const before = socket.listenerCount('connect');
      for (let i = 1; i <= 10000; i++) knobs.tuneOnConnect(socket, { keepAlive: { idle: 1000 + (i % 5000) }, userTimeout: 5000 + i });
      // The last call wins whole: its fields, and none of an earlier call's it does not name.
      knobs.tuneOnConnect(socket, { keepAlive: { idle: 77 } });
      expect(socket.listenerCount('connect')).toBe(before + 1);
      await new Promise((resolve) => socket.once('connect', resolve));
      await new Promise((resolve) => setImmediate(resolve));
      const state = knobs.getTuning(socket);
      expect(state.keepAlive.idle).toBe(77);
      expect(state.userTimeout).toBe(0);
      expect(socket.listenerCount('connect')).toBeLessThanOrEqual(socket.getMaxListeners());
    }
  });

  test("7. a socket of a tuned agent: a tuneOnConnect made before 'connect' replaces the agent's tuning for it, whole", async () => {
    const http = require('node:http');
    const server = track(http.createServer((req, res) => res.end('ok')));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = knobs.tuneAgent(new http.Agent(), { userTimeout: 45000, keepAlive: { idle: 61 } });
    const socket = await new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: server.address().port, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(req.socket));
      });
      req.on('socket', (s) => knobs.tuneOnConnect(s, { noDelay: true }));
      req.on('error', reject);
    });
    const state = knobs.getTuning(socket);
    expect(state.noDelay).toBe(true);
    expect(state.userTimeout).toBe(0);
    expect(state.keepAlive.idle).not.toBe(61);
  });
});

describe('raw reads by kind, getTuning beyond TCP, TCP_INFO edges (items 8, 9, 10)', () => {
  const knobs = require('../..');
  const { tcpPair, udpSocket, unixServer, track, thrown, emulated, testIf } = require('../helpers');
  const { decodeTcpInfo } = require('../../dist/modules/options/tcpinfo.js');

  testIf(
    emulated('TCP_CONGESTION', 'SO_BINDTODEVICE'),
    '8. getsockopt without a length reads a string option as its name, SO_LINGER as a Linger, by name or number',
    async () => {
      const { client } = await tcpPair();
      const cc = knobs.getsockopt(client, 'IPPROTO_TCP', 'TCP_CONGESTION');
      expect(cc).toBe(knobs.getCongestionControl(client));
      expect(cc).toMatch(/^[a-z0-9_]+$/);
      expect(knobs.getsockopt(client, knobs.constants.IPPROTO_TCP, knobs.constants.TCP_CONGESTION)).toBe(cc);
      expect(knobs.getsockopt(client, 'SOL_SOCKET', 'SO_BINDTODEVICE')).toBe('');
      knobs.setLinger(client, { enable: true, seconds: 9 });
      expect(knobs.getsockopt(client, 'SOL_SOCKET', 'SO_LINGER')).toEqual({ enable: true, seconds: 9 });
      knobs.setsockopt(client, 'SOL_SOCKET', 'SO_LINGER', { enable: false, seconds: 0 });
      expect(knobs.getLinger(client).enable).toBe(false); // (Linux keeps the old l_linger when l_onoff is 0)
      knobs.setsockopt(client, 'IPPROTO_TCP', 'TCP_CONGESTION', cc);
      expect(knobs.getCongestionControl(client)).toBe(cc);
    },
  );

  test('8. a struct without a length is refused, typed, pointing to getTcpInfo; with a length, its bytes', async () => {
    const { client } = await tcpPair();
    const err = thrown(() => knobs.getsockopt(client, 'IPPROTO_TCP', 'TCP_INFO'));
    expect(err).toBeInstanceOf(knobs.InvalidArgumentError);
    expect(err.message).toMatch(/getTcpInfo\(\)/);
    // With a length: the bytes the kernel copied (all of them: test below; qemu-user copies 4).
    expect(knobs.getsockopt(client, 'IPPROTO_TCP', 'TCP_INFO', 512).length).toBeGreaterThanOrEqual(4);
  });

  testIf(emulated('TCP_INFO'), '8. with a length, the kernel copies all of struct tcp_info it has (104 bytes or more)', async () => {
    const { client } = await tcpPair();
    expect(knobs.getsockopt(client, 'IPPROTO_TCP', 'TCP_INFO', 512).length).toBeGreaterThanOrEqual(104);
  });

  test('9. getTuning on UDP and Unix sockets: the socket-level fields, no TCP ones, no error', async () => {
    const udp = await udpSocket();
    knobs.tune(udp, { receiveBufferSize: 65536 });
    const state = knobs.getTuning(udp);
    expect(state.receiveBufferSize).toBe(131072);
    expect(state.keepAlive).toEqual({ enable: false });
    expect('noDelay' in state || 'userTimeout' in state || 'congestionControl' in state).toBe(false);
    const server = await unixServer();
    const client = track(require('node:net').connect(server.address()));
    await new Promise((resolve) => client.once('connect', resolve));
    const unix = knobs.getTuning(client);
    expect(unix.sendBufferSize).toBeGreaterThan(0);
    expect('noDelay' in unix).toBe(false);
  });

  test('10. TCP_INFO of 0 bytes is a typed error; only the pacing rates read ~0 as Infinity; counters stay numbers', () => {
    expect(thrown(() => decodeTcpInfo(new Uint8Array(0), 0)).code).toBe('ERR_SOCKET_KNOBS_TCP_INFO_EMPTY');
    const bytes = new Uint8Array(280).fill(0xff);
    bytes[0] = 1;
    const info = decodeTcpInfo(bytes, 280);
    expect(info.pacingRate).toBe(Infinity);
    expect(info.maxPacingRate).toBe(Infinity);
    expect(info.bytesAcked).toBe(2 ** 64); // exact to 2^53, documented
    expect(info.deliveryRate).toBe(2 ** 64);
    expect(Number.isFinite(info.bytesReceived)).toBe(true);
  });
});

describe('units (item 12)', () => {
  const knobs = require('../..');
  const { tcpPair } = require('../helpers');

  test('strings with units convert exactly; an implausible number is applied, with one warning per field naming the unit and the string form', async () => {
    const { client } = await tcpPair();
    // Jest gives each test file its own `process` object: the warnings are read from the calls.
    const spy = jest.spyOn(process, 'emitWarning');
    try {
      knobs.tune(client, { keepAlive: { idle: '45s', interval: '1m' }, userTimeout: '1.5s' });
      expect(knobs.getTuning(client)).toMatchObject({ keepAlive: { idle: 45, interval: 60 }, userTimeout: 1500 });
      knobs.tune(client, { keepAlive: { idle: 30000 }, userTimeout: 90 });
      knobs.tune(client, { keepAlive: { idle: 30000 }, userTimeout: 90 }); // warned once per field
      expect(knobs.getTuning(client)).toMatchObject({ keepAlive: { idle: 30000 }, userTimeout: 90 });
      const warnings = spy.mock.calls.filter(([, options]) => options && options.code === 'SOCKET_KNOBS_UNIT').map(([message]) => message);
      expect(warnings).toHaveLength(2);
      expect(warnings.find((w) => /keepAlive\.idle/.test(w))).toMatch(/30000 seconds \(8\.3 hours\).*'30000s'.*'30000ms'/);
      expect(warnings.find((w) => /userTimeout/.test(w))).toMatch(/90 milliseconds.*'90ms'.*'90s'/);
    } finally {
      spy.mockRestore();
    }
  });
});
