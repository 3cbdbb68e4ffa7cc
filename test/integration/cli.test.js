'use strict';
// `npx socket-knobs`: the real command, run as a person would (bin/socket-knobs.js).
const { execFile } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const knobs = require('../..');
const { listen, closeAll, track, emulated, testIf } = require('../helpers');

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
