'use strict';
// The prebuilds this machine's Node cannot load, run in real runtimes (scripts/runtimes.js):
// the win32-x64 prebuild in the official Windows node.exe 20 and 22 under wine, the linux-x64 musl
// prebuild in Bun's musl build. Each runs test/fixtures/runtimes/check.js against a staged copy of
// the package (what npm publishes, with the prebuild built now), which writes one result per check;
// every check must pass. The Windows run also proves, from outside, that what the addon set on a
// socket it created reached the (Linux) kernel wine maps Winsock onto: ss reads the listener.
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { PUBLISHED, runScript } = require('../../scripts/stage');
const { TARGETS, relativePath } = require('../../scripts/targets');
const { readSupport } = require('../../scripts/support');
const { NODE_WINDOWS_VERSIONS, BUN_VERSION, windowsUnavailable, runWindowsNode, bunUnavailable, bunMusl } = require('../../scripts/runtimes');
const { describeIf, noCommand, waitFor } = require('../helpers');

const root = path.join(__dirname, '..', '..');
const CHECK = path.join(root, 'test', 'fixtures', 'runtimes', 'check.js');
const onlyOnce = process.env.SOCKET_KNOBS_TEST_RUN === 'matrix' ? 'run once by npm test: these runtimes do not depend on the Node that runs the suite' : null;

/** What npm publishes, copied into a temp folder, node_modules linked; returns the package folder. */
function stage(work) {
  const dir = path.join(work, 'socket-knobs');
  fs.mkdirSync(dir);
  for (const entry of PUBLISHED) fs.cpSync(path.join(root, entry), path.join(dir, entry), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/** The check's expectations for `targetName`: the addon file and the names support.json lists for it. */
function expectations(work, targetName, extra) {
  const target = TARGETS.find((t) => t.name === targetName);
  const support = readSupport();
  const file = path.join(work, `expected-${targetName}.json`);
  fs.writeFileSync(file, JSON.stringify({ target: targetName, addonFile: `prebuilds/${relativePath(target)}`, names: support.targets[targetName], ...extra }));
  return file;
}

function report(outDir) {
  const { runtime, results } = JSON.parse(fs.readFileSync(path.join(outDir, 'results.json'), 'utf8'));
  console.log(
    `${runtime}:\n${results.map((r) => `  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name}${r.detail ? `: ${r.detail.split('\n')[0].slice(0, 300)}` : ''}`).join('\n')}`,
  );
  return results;
}

/** A free loopback port (the listener the Windows check makes binds it). */
async function freePort() {
  const net = require('node:net');
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const windowsReason = onlyOnce || windowsUnavailable() || noCommand('ss', ['-V'], 'Debian package iproute2');
describeIf(windowsReason, 'the win32-x64 prebuild in Windows node.exe under wine', () => {
  let work;
  let pkg;
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-wine-'));
    pkg = stage(work);
    require('../../scripts/prebuild-cross').build('win32-x64', path.join(pkg, 'prebuilds'), () => {});
  }, 600000);
  afterAll(() => work && fs.rmSync(work, { recursive: true, force: true }));

  test.each(NODE_WINDOWS_VERSIONS)(
    'node.exe %s: require, ESM, a worker, probe(), typed refusals, Winsock names, and options that reach the kernel',
    async (version) => {
      const outDir = fs.mkdtempSync(path.join(work, `out-${version}-`));
      const listenPort = await freePort();
      const expected = expectations(outDir, 'win32-x64', { windows: true, listenPort });
      const finished = runWindowsNode(version, [CHECK, pkg, outDir, expected], path.join(outDir, 'log.txt'));
      let done = false;
      finished.finally(() => (done = true));
      // The listener check waits while ss reads its socket from outside.
      await waitFor(() => done || fs.existsSync(path.join(outDir, 'listener.json')), { what: 'the listener check', ms: 120000, every: 100 });
      const ss = fs.existsSync(path.join(outDir, 'listener.json')) ? execFileSync('ss', ['-ltnmH', `sport = :${listenPort}`], { encoding: 'utf8' }) : '';
      fs.writeFileSync(path.join(outDir, 'seen.json'), '{}');
      const code = await finished;
      if (!fs.existsSync(path.join(outDir, 'results.json')))
        throw new Error(`no results (exit ${code}): ${fs.readFileSync(path.join(outDir, 'log.txt'), 'utf8').slice(-3000)}`);
      const results = report(outDir);
      console.log(`ss, outside wine: ${ss.trim().replace(/\s+/g, ' ')}`);
      expect(results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`)).toEqual([]);
      expect(results.length).toBeGreaterThanOrEqual(11);
      // backlog 37 (ss's Send-Q for a listener) and SO_RCVBUF 65536, which Linux doubles.
      expect(ss).toMatch(new RegExp(`LISTEN\\s+0\\s+37\\s+127\\.0\\.0\\.1:${listenPort}`));
      expect(ss).toMatch(/rb131072\b/);
    },
    300000,
  );
});

const bunReason = onlyOnce || bunUnavailable();
describeIf(bunReason, `the linux-x64 musl prebuild in Bun ${BUN_VERSION} (musl build)`, () => {
  let work;
  let pkg;
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-bun-'));
    pkg = stage(work);
    runScript(pkg, 'prebuilds:musl');
  }, 300000);
  afterAll(() => work && fs.rmSync(work, { recursive: true, force: true }));

  test('require, ESM, a worker, probe(), and keepalive set and read back on a Bun socket', async () => {
    const { bun, env } = bunMusl();
    const outDir = fs.mkdtempSync(path.join(work, 'out-'));
    const expected = expectations(outDir, 'linux-x64-musl', { windows: false });
    const child = spawn(bun, [CHECK, pkg, outDir, expected], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    if (!fs.existsSync(path.join(outDir, 'results.json'))) throw new Error(`no results (exit ${code}): ${output.slice(-3000)}`);
    const results = report(outDir);
    expect(results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`)).toEqual([]);
    expect(results.map((r) => r.name)).toContain('a socket of this runtime: keepalive set, read back from the kernel');
  }, 120000);
});
