'use strict';
// Issue 24 item 1: on macOS and the BSDs SO_KEEPALIVE on a listening socket makes the kernel run
// keepalive on the listener itself and reap it (libuv/libuv#2474), and accepted sockets do not
// inherit TCP_KEEP* there (nginx/nginx#709). Inheritance is a per-platform, per-family fact of the
// option table; the decision is a pure function, tested here with each platform as an argument,
// and end to end in child processes that run as darwin and freebsd against real Linux listeners:
// the listener must read back WITHOUT keepalive, every accepted socket WITH the tuning.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const knobs = require('../..');
const { listenerPlace } = require('../../dist/modules/core/inheritance.js');
const { testIf, eachIf } = require('../helpers');

const TUNING_ROWS = knobs.OPTIONS.filter((row) => row.tuning);
const KEEPALIVE = ['SO_KEEPALIVE', 'TCP_KEEPIDLE', 'TCP_KEEPINTVL', 'TCP_KEEPCNT'];
const OTHER_PLATFORMS = ['darwin', 'freebsd', 'openbsd', 'netbsd', 'win32', 'sunos', 'aix', 'android'];

describe('listenerPlace(row, family, platform): where a server field must be set', () => {
  test('on Linux TCP listeners, the Linux column of the table decides (measured by linux-options.test.js)', () => {
    for (const row of TUNING_ROWS) {
      for (const family of ['IPv4', 'IPv6']) {
        const where = listenerPlace(row, family, 'linux');
        expect({ name: row.name, place: where.place }).toEqual({ name: row.name, place: row.inherited.linux ? 'listener' : 'per-connection' });
      }
    }
  });

  test.each(OTHER_PLATFORMS)('on %s no field is left to the listener, and keepalive never reaches it, naming the hazard', (platform) => {
    for (const row of TUNING_ROWS) {
      const where = listenerPlace(row, 'IPv4', platform);
      expect({ name: row.name, place: where.place }).toEqual({ name: row.name, place: 'per-connection' });
      if (KEEPALIVE.includes(row.name)) expect(where.reason).toMatch(new RegExp(`never set on a listening socket on ${platform}.*stop accepting`));
      else if (row.inherited.linux) expect(where.reason).toMatch(/measured on Linux only/);
    }
  });

  test('the decision reads process.platform when called, not when the module loaded', () => {
    const row = knobs.OPTIONS.find((r) => r.name === 'SO_KEEPALIVE');
    const original = Object.getOwnPropertyDescriptor(process, 'platform');
    try {
      Object.defineProperty(process, 'platform', { value: 'darwin', configurable: true });
      expect(listenerPlace(row, 'IPv4').place).toBe('per-connection');
    } finally {
      Object.defineProperty(process, 'platform', original);
    }
    expect(listenerPlace(row, 'IPv4').place).toBe(process.platform === 'linux' ? 'listener' : 'per-connection');
  });

  test.each(['linux', 'darwin', 'win32'])('on %s, AF_UNIX servers: buffers and linger per connection, TCP fields do not apply', (platform) => {
    for (const row of TUNING_ROWS) {
      const where = listenerPlace(row, 'unix', platform);
      const expected = ['SO_RCVBUF', 'SO_SNDBUF', 'SO_LINGER'].includes(row.name) ? 'per-connection' : 'not-applicable';
      expect({ name: row.name, place: where.place }).toEqual({ name: row.name, place: expected });
      expect(where.reason).toMatch(/AF_UNIX/);
    }
  });
});

// End to end as another OS. The override works where the addon loads from build/Release (a
// prebuild-only copy would look for prebuilds/darwin-x64 and load nothing): skipped, with that reason, there.
const root = path.join(__dirname, '..', '..');
const noLocalBuild = !fs.existsSync(path.join(root, 'build', 'Release', 'socket_knobs.node'))
  ? 'no build/Release addon here (a prebuild-only copy cannot load under an overridden process.platform)'
  : process.platform !== 'linux'
    ? 'the real listeners must be Linux ones'
    : null;

const WANT = { keepAlive: { enable: true, idle: 31, interval: 7, count: 4 }, userTimeout: 9000, noDelay: true };

function runAs(platform) {
  const run = spawnSync(process.execPath, [path.join(__dirname, '..', 'fixtures', 'platform-server.js'), platform], { encoding: 'utf8', timeout: 60000 });
  const line = run.stdout.trim().split('\n').pop();
  expect({ status: run.status, output: run.status === 0 ? '' : run.stdout + run.stderr }).toEqual({ status: 0, output: '' });
  return JSON.parse(line);
}

eachIf(
  [['darwin'], ['freebsd']],
  () => noLocalBuild,
  'as %s: the listener never gets keepalive; every accepted socket reads the tuning back; ready says per-connection',
  (platform) => {
    const out = runAs(platform);
    expect(out.loadError).toBeUndefined();
    expect(out.platform).toBe(platform);
    const untouched = { SO_KEEPALIVE: 0, TCP_USER_TIMEOUT: 0 };
    for (const key of ['tuneServer-before', 'tuneServer-after', 'listen', 'tuneServers']) {
      const result = out[key];
      // The kernel's defaults on the listener (net.ipv4.tcp_keepalive_* here), never the tuning.
      expect({ key, SO_KEEPALIVE: result.listener.SO_KEEPALIVE, TCP_USER_TIMEOUT: result.listener.TCP_USER_TIMEOUT }).toEqual({ key, ...untouched });
      expect(result.listener.TCP_KEEPIDLE).not.toBe(31);
      expect(result.listener.TCP_KEEPINTVL).not.toBe(7);
      expect(result.listener.TCP_KEEPCNT).not.toBe(4);
      expect(result.accepted).toHaveLength(5);
      for (const accepted of result.accepted) expect({ key, ...accepted }).toEqual({ key, ...WANT });
    }
    for (const mode of [out['tuneServer-before'].mode, out['tuneServer-after'].mode, ...out.tuneServers.modes]) {
      expect(mode.mode).toBe('per-connection');
      expect(mode.platform).toBe(platform);
      expect(mode.perConnection).toEqual(
        expect.arrayContaining(['keepAlive.enable', 'keepAlive.idle', 'keepAlive.interval', 'keepAlive.count', 'userTimeout', 'noDelay']),
      );
      expect(mode.reasons.join('\n')).toMatch(new RegExp(`SO_KEEPALIVE is never set on a listening socket on ${platform}`));
    }
    expect(out.tuneServers.modes).toHaveLength(1);
    // tune(server) is strict: refused, naming the platform and the fix, and nothing set.
    expect(out.tune).toMatchObject({ threw: true, code: 'ERR_INVALID_ARG_VALUE' });
    expect(out.tune.message).toMatch(new RegExp(`never set on a listening socket on ${platform}.*tuneServer`));
    expect(out.tune.listener).toMatchObject(untouched);
  },
  60000,
);

testIf(
  noLocalBuild,
  'as linux (the same fixture, no override): the listener holds the tuning, accepted sockets inherit it',
  () => {
    const out = runAs('linux');
    expect(out['tuneServer-after'].mode.mode).toBe('listener');
    expect(out['tuneServer-after'].listener).toEqual({ SO_KEEPALIVE: 1, TCP_KEEPIDLE: 31, TCP_KEEPINTVL: 7, TCP_KEEPCNT: 4, TCP_USER_TIMEOUT: 9000 });
    for (const accepted of out['tuneServer-after'].accepted) expect(accepted).toEqual(WANT);
    expect(out.tune).toMatchObject({ threw: false });
  },
  60000,
);
