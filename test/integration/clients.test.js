'use strict';
// Tuning the sockets of real clients against real servers on loopback: Node's http and https
// agents, undici and the global fetch, pg against PostgreSQL, ioredis against redis-server, mysql2
// against MariaDB (servers from Debian's packages, started here in temp folders: test/helpers/servers.js).
// Each test reads the kernel's values back on the client's live socket after several requests,
// after pool reuse, and for ioredis after a reconnect: `ss` shows only the idle timer, so only a
// read-back catches a reset of interval or count.
const http = require('node:http');
const https = require('node:https');
const knobs = require('../..');
const { closeAll, track, selfSignedCert, noOpenssl, testIf, describeIf } = require('../helpers');
const { missing, startRedis, startPostgres, startMariaDB } = require('../helpers/servers');

afterEach(closeAll);

const TUNING = { keepAlive: { idle: 61, interval: 11, count: 4 }, userTimeout: 45000, noDelay: true };
const EXPECTED = { enable: true, idle: 61, interval: 11, count: 4 };

function expectTuned(socket) {
  const state = knobs.getTuning(socket);
  expect(state.keepAlive).toEqual(EXPECTED);
  expect(state.userTimeout).toBe(45000);
  expect(state.noDelay).toBe(true);
}

/** A request on `agent`; resolves with the client socket once the response has been read. */
function get(mod, options) {
  return new Promise((resolve, reject) => {
    const req = mod.get(options, (res) => {
      res.resume();
      res.on('end', () => resolve(req.socket));
    });
    req.on('error', reject);
  });
}

async function startHttp(mod, extra = {}) {
  const server = track(mod.createServer(extra, (req, res) => res.end('ok')));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('Node http and https agents: tuneAgent()', () => {
  test('http.Agent with keepAlive: tuned on connect, still tuned after 3 requests on the reused socket', async () => {
    const server = await startHttp(http);
    const agent = knobs.tuneAgent(new http.Agent({ keepAlive: true, maxSockets: 1 }), TUNING);
    const sockets = [];
    for (let i = 0; i < 3; i++) {
      const socket = await get(http, { port: server.address().port, host: '127.0.0.1', agent });
      await new Promise((resolve) => setImmediate(resolve)); // back in the pool
      expectTuned(socket);
      sockets.push(socket);
    }
    expect(new Set(sockets).size).toBe(1); // one socket, reused from the pool
    agent.destroy();
  });

  testIf(noOpenssl(), 'https.Agent with keepAlive: still tuned after each return to the pool (Node 20/22 reset keepalive there)', async () => {
    const pair = selfSignedCert();
    const server = await startHttp(https, pair);
    const agent = knobs.tuneAgent(new https.Agent({ keepAlive: true, maxSockets: 1, ca: pair.cert }), TUNING);
    const sockets = [];
    for (let i = 0; i < 3; i++) {
      const socket = await get(https, { port: server.address().port, host: '127.0.0.1', servername: 'localhost', agent });
      await new Promise((resolve) => setImmediate(resolve));
      expectTuned(socket);
      sockets.push(socket);
    }
    expect(new Set(sockets).size).toBe(1);
    agent.destroy();
  });

  test("tuning in a request's 'socket' event is too early: the socket is still connecting (ERR_SOCKET_NO_FD)", async () => {
    const server = await startHttp(http);
    const agent = new http.Agent({ keepAlive: true });
    let early;
    await new Promise((resolve, reject) => {
      const req = http.get({ port: server.address().port, host: '127.0.0.1', agent }, (res) => res.resume().on('end', resolve));
      req.on('socket', (socket) => {
        try {
          knobs.tune(socket, TUNING);
        } catch (err) {
          early = err;
        }
      });
      req.on('error', reject);
    });
    expect(early).toBeInstanceOf(knobs.SocketStateError);
    expect(early.code).toBe('ERR_SOCKET_NO_FD');
    agent.destroy();
  });

  test('a bad tuning throws at once, and a non-agent is refused', () => {
    const agent = new http.Agent();
    expect(() => knobs.tuneAgent(agent, { keepAlive: { count: 0 } })).toThrow(knobs.InvalidArgumentError);
    expect(() => knobs.tuneAgent({}, TUNING)).toThrow(knobs.InvalidArgumentError);
    agent.destroy();
  });
});

describe('undici and fetch: tuneConnector()', () => {
  const undici = require('undici');

  /** undici's own connector, wrapped to remember the sockets it makes, then tuned. */
  function tunedConnector(sockets) {
    const base = undici.buildConnector({});
    const recording = (options, callback) =>
      base(options, (err, socket) => {
        if (socket) sockets.push(socket);
        callback(err, socket);
      });
    return knobs.tuneConnector(recording, TUNING);
  }

  test('undici.Agent: every socket tuned, still tuned after 5 requests', async () => {
    const server = await startHttp(http);
    const sockets = [];
    const agent = new undici.Agent({ connect: tunedConnector(sockets) });
    for (let i = 0; i < 5; i++) {
      const res = await undici.request(`http://127.0.0.1:${server.address().port}/`, { dispatcher: agent });
      expect(await res.body.text()).toBe('ok');
    }
    expect(sockets.length).toBeGreaterThanOrEqual(1);
    for (const socket of sockets) expectTuned(socket);
    await agent.close();
  });

  test('global fetch through setGlobalDispatcher (in a plain node process: jest gives tests a global of their own)', async () => {
    const server = await startHttp(http);
    const script = `
      const knobs = require(${JSON.stringify(require('node:path').join(__dirname, '..', '..'))});
      const undici = require('undici');
      const sockets = [];
      const base = undici.buildConnector({});
      const recording = (options, callback) => base(options, (err, socket) => { if (socket) sockets.push(socket); callback(err, socket); });
      undici.setGlobalDispatcher(new undici.Agent({ connect: knobs.tuneConnector(recording, ${JSON.stringify(TUNING)}) }));
      (async () => {
        const bodies = [];
        for (let i = 0; i < 3; i++) bodies.push(await (await fetch('http://127.0.0.1:${server.address().port}/')).text());
        console.log(JSON.stringify({ bodies, tunings: sockets.map((s) => knobs.getTuning(s)) }));
        await undici.getGlobalDispatcher().close();
      })();
    `;
    const run = await new Promise((resolve) => {
      const child = require('node:child_process').execFile(
        process.execPath,
        ['-e', script],
        { cwd: require('node:path').join(__dirname, '..', '..'), timeout: 30000 },
        (err, stdout, stderr) => resolve({ err, stdout, stderr }),
      );
      void child;
    });
    expect(run.stderr).toBe('');
    const { bodies, tunings } = JSON.parse(run.stdout);
    expect(bodies).toEqual(['ok', 'ok', 'ok']);
    expect(tunings.length).toBeGreaterThanOrEqual(1);
    for (const state of tunings) {
      expect(state.keepAlive).toEqual(EXPECTED);
      expect(state.userTimeout).toBe(45000);
      expect(state.noDelay).toBe(true);
    }
  });

  test('a kernel refusal fails the request with the SyscallError', async () => {
    // TCP_USER_TIMEOUT over a Unix socket: the kernel refuses it.
    const server = track(http.createServer((req, res) => res.end('ok')));
    const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'socket-knobs-undici-'));
    const file = require('node:path').join(dir, 's');
    await new Promise((resolve) => server.listen(file, resolve));
    const agent = new undici.Agent({ connect: knobs.tuneConnector(undici.buildConnector({ socketPath: file }), { userTimeout: 1000 }) });
    const err = await undici.request('http://localhost/', { dispatcher: agent }).then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(knobs.SyscallError);
    expect(err.option).toBe('TCP_USER_TIMEOUT');
    await agent.close();
  });
});

describeIf(missing.postgres(), 'pg against PostgreSQL', () => {
  let pgServer;
  beforeAll(async () => {
    pgServer = await startPostgres();
  }, 60000);
  afterAll(() => pgServer && pgServer.stop(), 30000);

  test("pg Pool with its own keepAlive: tuned in pool.on('connect'), after pg's own setKeepAlive", async () => {
    const { Pool } = require('pg');
    const pool = new Pool({
      host: '127.0.0.1',
      port: pgServer.port,
      user: 'postgres',
      database: 'postgres',
      max: 1,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10000,
    });
    pool.on('connect', (client) => knobs.tune(client.connection.stream, TUNING));
    try {
      let stream;
      for (let i = 0; i < 3; i++) {
        const client = await pool.connect();
        expect((await client.query('SELECT 1 AS one')).rows[0].one).toBe(1);
        stream = stream || client.connection.stream;
        expect(client.connection.stream).toBe(stream); // the same connection, reused
        expectTuned(client.connection.stream);
        client.release();
      }
    } finally {
      await pool.end();
    }
  }, 30000);

  test("pg: a tuning made in the socket's own 'connect' listener is reset by pg's keepAlive (the trap the README warns of)", async () => {
    const { Client } = require('pg');
    const net = require('node:net');
    const socket = new net.Socket();
    socket.once('connect', () => knobs.tune(socket, TUNING)); // before pg adds its own listener
    const client = new Client({
      host: '127.0.0.1',
      port: pgServer.port,
      user: 'postgres',
      database: 'postgres',
      keepAlive: true,
      keepAliveInitialDelayMillis: 10000,
      stream: () => socket,
    });
    try {
      await client.connect();
      const keepAlive = knobs.getKeepAlive(socket);
      expect(keepAlive.enable).toBe(true);
      expect([keepAlive.idle, keepAlive.interval, keepAlive.count]).toEqual([10, 1, 10]); // Node's setKeepAlive, called by pg, won
    } finally {
      await client.end();
    }
  }, 30000);
});

describeIf(missing.redis(), 'ioredis against redis-server', () => {
  let redisServer;
  beforeAll(async () => {
    redisServer = await startRedis();
  }, 60000);
  afterAll(() => redisServer && redisServer.stop(), 30000);

  test("ioredis: tuned in redis.on('connect'), and again on the new socket after CLIENT KILL", async () => {
    const Redis = require('ioredis');
    const redis = new Redis({ host: '127.0.0.1', port: redisServer.port, keepAlive: 5000, retryStrategy: () => 50, lazyConnect: true });
    redis.on('error', () => {});
    redis.on('connect', () => knobs.tune(redis.stream, TUNING));
    try {
      await redis.connect();
      for (let i = 0; i < 3; i++) expect(await redis.ping()).toBe('PONG');
      const first = redis.stream;
      expectTuned(first);
      const id = await redis.client('ID');
      const admin = new Redis({ host: '127.0.0.1', port: redisServer.port });
      await admin.client('KILL', 'ID', String(id));
      await admin.quit();
      await new Promise((resolve) => redis.once('ready', resolve));
      expect(await redis.ping()).toBe('PONG');
      expect(redis.stream).not.toBe(first);
      expectTuned(redis.stream);
    } finally {
      redis.disconnect();
    }
  }, 30000);
});

describeIf(missing.mariadb(), 'mysql2 against MariaDB', () => {
  let mariaServer;
  beforeAll(async () => {
    mariaServer = await startMariaDB();
  }, 60000);
  afterAll(() => mariaServer && mariaServer.stop(), 30000);

  test("mysql2 pool: tuned in pool.on('connection'), still tuned after reuse", async () => {
    const mysql = require('mysql2/promise');
    const pool = mysql.createPool({ host: '127.0.0.1', port: mariaServer.port, user: 'root', connectionLimit: 1, enableKeepAlive: true });
    pool.pool.on('connection', (connection) => knobs.tune(connection.stream, TUNING));
    try {
      let stream;
      for (let i = 0; i < 3; i++) {
        const connection = await pool.getConnection();
        const [rows] = await connection.query('SELECT 1 AS one');
        expect(rows[0].one).toBe(1);
        stream = stream || connection.connection.stream;
        expect(connection.connection.stream).toBe(stream);
        expectTuned(stream);
        connection.release();
      }
    } finally {
      await pool.end();
    }
  }, 30000);
});
