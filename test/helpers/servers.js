'use strict';
// Real database servers for the client tests, from Debian's packages (.ci/run installs them):
// each is started on loopback, on a free port, in a temporary folder, and stopped by `stop()`.
// Where a server is not installed, `missing.NAME()` says why (decided when the test file loads, so
// the test is reported as skipped with that reason); once installed, a server that does not start
// is a failure.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, ms, child) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) return false;
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), resolve(true)));
      c.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

function which(...candidates) {
  return candidates.find((file) => fs.existsSync(file)) || null;
}

function tempDir(name) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `socket-knobs-${name}-`));
}

/** Kills a server process and removes its folder; waits for the exit. */
function stopper(child, dir) {
  return async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
}

const PG_BINDIRS = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'];

/** Why each server cannot run here, or null. */
const missing = {
  redis: () => (which('/usr/bin/redis-server') ? null : 'redis-server is not installed (apt-get install redis-server)'),
  postgres: () => {
    if (!PG_BINDIRS.some((d) => fs.existsSync(path.join(d, 'postgres')))) return 'PostgreSQL is not installed (apt-get install postgresql)';
    if (process.getuid() === 0 && spawnSync('id', ['postgres']).status !== 0) return 'no postgres user to run PostgreSQL as';
    return null;
  },
  mariadb: () =>
    which('/usr/sbin/mariadbd', '/usr/sbin/mysqld') && which('/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db')
      ? null
      : 'MariaDB is not installed (apt-get install mariadb-server)',
};

function failed(what) {
  throw new Error(what);
}

async function startRedis() {
  const bin = which('/usr/bin/redis-server');
  const dir = tempDir('redis');
  const port = await freePort();
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  if (!(await waitForPort(port, 10000, child))) failed('redis-server did not start');
  return { port, stop: stopper(child, dir) };
}

/** PostgreSQL refuses to run as root: the cluster belongs to the `postgres` user when we are root. */
async function startPostgres() {
  const bindir = PG_BINDIRS.find((d) => fs.existsSync(path.join(d, 'postgres')));
  const root = process.getuid() === 0;
  const dir = tempDir('pg');
  fs.chmodSync(dir, 0o777);
  const data = path.join(dir, 'data');
  const asPostgres = (cmd, args) => (root ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  const [initCmd, initArgs] = asPostgres(path.join(bindir, 'initdb'), ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync']);
  const init = spawnSync(initCmd, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) failed(`initdb failed: ${init.stderr.trim().split('\n').pop()}`);
  const port = await freePort();
  const [cmd, args] = asPostgres(path.join(bindir, 'postgres'), [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
  ]);
  const child = spawn(cmd, args, { stdio: 'ignore' });
  if (!(await waitForPort(port, 20000, child))) failed('postgres did not start');
  // runuser forwards SIGTERM to postgres (smart shutdown; clients are gone by then).
  return { port, stop: stopper(child, dir) };
}

async function startMariaDB() {
  const bin = which('/usr/sbin/mariadbd', '/usr/sbin/mysqld');
  const install = which('/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db');
  const dir = tempDir('mariadb');
  const init = spawnSync(install, ['--no-defaults', `--datadir=${dir}/data`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'], {
    encoding: 'utf8',
  });
  if (init.status !== 0) failed(`mariadb-install-db failed: ${(init.stderr || init.stdout).trim().split('\n').pop()}`);
  const port = await freePort();
  const child = spawn(
    bin,
    [
      '--no-defaults',
      `--datadir=${dir}/data`,
      '--user=root',
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${dir}/sock`,
      `--pid-file=${dir}/pid`,
      '--skip-grant-tables',
      '--skip-log-bin',
    ],
    { stdio: 'ignore' },
  );
  if (!(await waitForPort(port, 30000, child))) failed('mariadbd did not start');
  return { port, stop: stopper(child, dir) };
}

module.exports = { missing, startRedis, startPostgres, startMariaDB, freePort, waitForPort };
