'use strict';
// `npx socket-knobs`: the real command, run as a person would (bin/socket-knobs.js).
const { execFile } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const knobs = require('../..');
const { listen, closeAll, track, emulated, testIf, EMULATED } = require('../helpers');

afterEach(closeAll);

const BIN = path.join(__dirname, '..', '..', 'bin', 'socket-knobs.js');
function run(...args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30000 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    );
  });
}

test('with no address: the support table (headers and kernel) and the kernel defaults, as text and as JSON', async () => {
  const json = await run('--json');
  expect(json.code).toBe(0);
  const out = JSON.parse(json.stdout);
  expect(out.options.map((o) => o.name)).toEqual(knobs.OPTIONS.map((r) => r.name));
  for (const o of out.options) expect(o.defined).toBe(knobs.isSupported(o.name));
  if (process.platform === 'linux') {
    expect(out.options.find((o) => o.name === 'TCP_USER_TIMEOUT')).toMatchObject({ defined: true, accepted: true });
    expect(out.sysctls['net.ipv4.tcp_keepalive_time'].value).toMatch(/^\d+$/);
    expect(out.sysctls['net.ipv4.tcp_congestion_control'].value).toBe(
      require('node:fs').readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim(),
    );
  }
  const text = await run();
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/TCP_KEEPIDLE\s+IPPROTO_TCP\s+yes\s+yes/);
  expect(text.stdout).toMatch(/net\.ipv4\.tcp_keepalive_time\s+\d+/);
});

testIf(emulated('TCP_INFO'), "with host:port: connects, applies nothing, prints the connection's TCP_INFO and options", async () => {
  const held = [];
  const server = track(net.createServer((s) => held.push(track(s))));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { code, stdout, stderr } = await run('--json', `127.0.0.1:${server.address().port}`);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  const { connection } = JSON.parse(stdout);
  expect(connection.remote).toBe(`127.0.0.1:${server.address().port}`);
  expect(connection.tcpInfo.state).toBe('ESTABLISHED');
  expect(connection.tcpInfo.rtt).toBeGreaterThan(0);
  expect(connection.tuning.keepAlive.enable).toBe(false); // nothing applied
  const text = await run(`127.0.0.1:${server.address().port}`);
  expect(text.stdout).toMatch(/^connection 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+/);
  expect(text.stdout).toMatch(/\n {2}rtt\s+\d+/);
});

test('a bad address is a usage error (exit 2); a refused connection says so (exit 1)', async () => {
  const bad = await run('nonsense');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/not a host:port/);
  const server = await listen();
  const port = server.address().port;
  await new Promise((resolve) => server.close(resolve));
  const refused = await run(`127.0.0.1:${port}`);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/ECONNREFUSED/);
});

describe('the command line contract (issue 16 item 11)', () => {
  const fs = require('node:fs');
  const os = require('node:os');
  const { spawnSync } = require('node:child_process');

  test('`--` ends the options; an unknown option is a usage error (exit 2)', async () => {
    const server = await listen();
    const ok = await run('--json', '--', `127.0.0.1:${server.address().port}`);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).connection.tcpInfo.state).toBe('ESTABLISHED');
    const bad = await run('--jsn');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown option "--jsn"/);
  });

  test('a 100 KB host is echoed back cut short; a newline or space inside the host is not a host:port', async () => {
    const long = await run(`${'a'.repeat(100000)}:80`);
    expect(long.code).toBe(2);
    expect(long.stderr.length).toBeLessThan(400);
    for (const bad of ['a\nb:80', 'a b:80', 'a\tb:80', '[::1\n]:80', 'host:80\n']) {
      const r = await run(bad);
      expect({ bad, code: r.code }).toEqual({ bad, code: 2 });
    }
  });

  test('the edges of --pid and --expect: each a usage error (exit 2), none a silent choice; --json --help is JSON', async () => {
    const max = Number(require('node:fs').readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    for (const [args, message, errorCode] of [
      [['--pid', '--json'], /--pid needs a value/],
      [['--pid', '12', '--pid', '13'], /--pid given twice/],
      [['--pid', String(max + 1)], /--pid needs a process id \(1 to \d+, the kernel's pid_max\)/],
      [['--pid', '9999999999'], /--pid needs a process id/],
      [['--expect', '{}'], /--expect needs --pid/],
      [['--pid', '12', '--expect'], /--expect needs a value/],
      [['--pid', '12', '--expect', '{"keepAlive": 1'], /--expect: not JSON/],
      [['--pid', '12', '--expect', '/nonexistent/tuning.json'], /--expect: neither a JSON tuning nor a readable file/],
      // A tuning the package refuses: usage, with the package's own typed code.
      [['--pid', '12', '--expect', '{"keepAlive":{"idle":-1}}'], /--expect: .*options\.expect\.keepAlive\.idle/, 'ERR_OUT_OF_RANGE'],
      [['--pid', '12', '--expect', '{"keepAlives":true}'], /--expect: .*keepAlives/, 'ERR_INVALID_ARG_VALUE'],
    ].map(([a, m, c = 'ERR_USAGE']) => [a, m, c])) {
      const r = await run('--json', ...args);
      expect({ args, code: r.code, error: JSON.parse(r.stdout).error.code }).toEqual({ args, code: 2, error: errorCode });
      expect(JSON.parse(r.stdout).error.message).toMatch(message);
    }
    // The --json given after --pid is still a flag: the failure is JSON too.
    expect(JSON.parse((await run('--pid', '--json')).stdout).error.code).toBe('ERR_USAGE');
    const help = await run('--json', '--help');
    expect(help.code).toBe(0);
    expect(JSON.parse(help.stdout).usage).toMatch(/--expect TUNING/);
  });

  test('--json reports failures as JSON on stdout, with the exit code', async () => {
    const usage = await run('--json', 'nonsense');
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout).error.code).toBe('ERR_USAGE');
    const server = await listen();
    const port = server.address().port;
    await new Promise((resolve) => server.close(resolve));
    const refused = await run('--json', `127.0.0.1:${port}`);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).error).toMatchObject({ code: 'ECONNREFUSED' });
  });

  test('output that cannot be written (/dev/full) is a failure, not exit 0', () => {
    const full = fs.openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [BIN, '--json'], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8', timeout: 30000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/ENOSPC/);
    } finally {
      fs.closeSync(full);
    }
  });

  test('with no addon, host mode fails before connecting anywhere', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-cli-noaddon-'));
    try {
      const root = path.join(__dirname, '..', '..');
      fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
      fs.cpSync(path.join(root, 'bin'), path.join(dir, 'bin'), { recursive: true });
      fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
      let connections = 0;
      const server = track(net.createServer((s) => (connections++, s.destroy())));
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const r = spawnSync(process.execPath, [path.join(dir, 'bin', 'socket-knobs.js'), '--json', `127.0.0.1:${server.address().port}`], {
        encoding: 'utf8',
        env: { ...process.env, PREBUILDS_ONLY: '1', NODE_PATH: path.join(root, 'node_modules') },
        timeout: 30000,
      });
      expect(r.status).toBe(1);
      expect(JSON.parse(r.stdout).error.code).toBe('ERR_SOCKET_KNOBS_NO_ADDON');
      await new Promise((resolve) => setImmediate(resolve));
      expect(connections).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--port PORT: the processes holding sockets on a port, cluster workers included', () => {
  const linux = process.platform === 'linux' ? null : '/proc is Linux-only';
  testIf(linux, 'a round-robin cluster: the primary holds the listener, each worker its connections; --listen keeps the listener', async () => {
    const { spawn } = require('node:child_process');
    const primary = spawn(process.execPath, [path.join(__dirname, '..', 'fixtures', 'cluster', 'port-holders.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const ready = await new Promise((resolve) => primary.stdout.once('data', (d) => resolve(JSON.parse(String(d)))));
      const clients = await Promise.all(
        Array.from(
          { length: 6 },
          () =>
            new Promise((resolve) => {
              const c = track(net.connect(ready.port, '127.0.0.1', () => resolve(c)));
            }),
        ),
      );
      // Round-robin hands the connections to the workers: wait until both hold some.
      const holders = async () => {
        const r = await run('--json', '--port', String(ready.port));
        return JSON.parse(r.stdout).sockets;
      };
      let sockets;
      for (let i = 0; i < 100; i++) {
        sockets = await holders();
        if (sockets.filter((s) => s.state === 'ESTABLISHED').length === clients.length) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const listener = sockets.filter((s) => s.state === 'LISTEN');
      expect(listener.map((s) => s.pid)).toEqual([primary.pid]);
      expect(listener[0].local).toBe(`127.0.0.1:${ready.port}`);
      const established = sockets.filter((s) => s.state === 'ESTABLISHED');
      expect(established.length).toBe(clients.length);
      expect(new Set(established.map((s) => s.pid))).toEqual(new Set(ready.workers));
      // The command is argv[0]'s base name: the node binary (qemu's, under npm run test:arm64), not
      // the thread name Node 24 and later give their main thread.
      // (Under qemu-user, argv[0] is the binfmt interpreter's: any name but MainThread.)
      for (const s of established) {
        if (EMULATED) expect(s.command).toMatch(/^(?!MainThread$)\S+$/);
        else expect(s.command).toBe(path.basename(process.execPath));
      }
      // The client ends (this process) have the port as their remote port, not their local one: not listed.
      expect(sockets.some((s) => s.pid === process.pid)).toBe(false);
      const listening = JSON.parse((await run('--json', '--port', String(ready.port), '--listen')).stdout).sockets;
      expect(listening.map((s) => [s.pid, s.state])).toEqual([[primary.pid, 'LISTEN']]);
      const text = await run('--port', String(ready.port));
      expect(text.stdout).toMatch(new RegExp(`port ${ready.port}: 7 TCP sockets`));
      expect(text.stdout).toMatch(new RegExp(`${primary.pid}\\s+${listener[0].command}\\s+\\d+\\s+LISTEN\\s+127\\.0\\.0\\.1:${ready.port}`));
      // --netns names another namespace by a process in it: here, the cluster's own (the same).
      expect(JSON.parse((await run('--json', '--port', String(ready.port), '--netns', String(primary.pid))).stdout).sockets.length).toBe(7);
      for (const c of clients) c.destroy();
    } finally {
      primary.stdin.end();
    }
    for (const [args, code] of [
      [['--port', '0'], 2],
      [['--port', '70000'], 2],
      [['--listen'], 2],
      [['--port', '80', '--pid', '1'], 2],
      [['--port', '80', '--netns', 'x'], 2],
    ]) {
      expect({ args, code: (await run('--json', ...args)).code }).toEqual({ args, code });
    }
  });
});
