'use strict';
// Regression tests for the second adversarial run (issue 16): each case failed on the code before
// its fix.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { closeAll } = require('../helpers');

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
    expect(out.fields).toBeGreaterThan(30);
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
