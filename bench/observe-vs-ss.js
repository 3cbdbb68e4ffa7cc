'use strict';
// observe() at fleet scale against the alternative an operator has: 5,000 idle loopback connections
// held by a child process, accepted by a server in this process, and
//   - observe(server, { interval: 10 s, registry }) with the prom-client exporter (scraped every 10 s),
//   - or `ss -tin` run every 10 s and its output parsed (what a sidecar does),
// over the same window. Prints CPU (this process, and ss's own), wake-ups per second, samples per
// connection against the mean interval asked, CPU per sample, and heap per observed connection with
// and without an exporter. Run alone: `node bench/observe-vs-ss.js`; `npm run bench` runs it too.
const { spawn, spawnSync } = require('node:child_process');
const { createHook } = require('node:async_hooks');
const fs = require('node:fs');
const path = require('node:path');
const net = require('node:net');
const knobs = require('..');

const CONNECTIONS = 5000;
const INTERVAL = 10000;
const WINDOW = 20000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU microseconds of this process's waited-for children (ss), from /proc/self/stat (clock ticks of 10 ms). */
function childrenCpuUs() {
  const fields = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  // Fields 16 and 17 (cutime, cstime) of stat(5), counted from field 3 after the command name.
  return (Number(fields[13]) + Number(fields[14])) * 10000;
}

function cpuUs(since) {
  const u = process.cpuUsage(since);
  return u.user + u.system;
}

/** `CONNECTIONS` connections to `port`, held by a child process until it is told to go. */
async function holder(port) {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const net = require('net'); const all = []; let open = 0;
         for (let i = 0; i < ${CONNECTIONS}; i++) { const c = net.connect(${port}, '127.0.0.1', () => { if (++open === ${CONNECTIONS}) process.send('ready'); }); c.on('error', () => {}); all.push(c); }
         process.on('message', () => { for (const c of all) c.destroy(); process.exit(0); });`,
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the holder exited (${code})`)));
  });
  return {
    release: () =>
      new Promise((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', resolve);
        child.send('go');
      }),
  };
}

async function serverWith(observeOptions) {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    server.accepted.push(s);
  });
  server.accepted = [];
  const observer = observeOptions ? knobs.observe(server, observeOptions) : null;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', 8192, resolve));
  return { server, observer };
}

/** `ss -tin` for the server's port, parsed into per-connection figures (as a sidecar would). */
function ssOnce(port) {
  const run = spawnSync('ss', ['-tinH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.error || run.status !== 0) throw new Error(`ss failed: ${run.error || run.stderr}`);
  const rows = [];
  const lines = run.stdout.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const info = lines[i + 1];
    rows.push({
      rtt: Number(/\brtt:([\d.]+)/.exec(info)?.[1] ?? NaN),
      bytesSent: Number(/\bbytes_sent:(\d+)/.exec(info)?.[1] ?? 0),
      retrans: Number(/\bretrans:\d+\/(\d+)/.exec(info)?.[1] ?? 0),
    });
  }
  return rows.length;
}

async function observeVsSs(progress = () => {}) {
  if (spawnSync('ss', ['-V']).error) return { skipped: 'no ss command (iproute2)' };
  const figures = {};

  // 1. Unobserved: the baseline heap and idle CPU, then ss every 10 s over the window.
  progress(`observe() vs ss: ${CONNECTIONS} connections, unobserved, ss -tin every ${INTERVAL / 1000} s`);
  {
    const { server } = await serverWith(null);
    const h = await holder(server.address().port);
    // The idle baseline, subtracted from the windows below: settled first (accepting 5,000
    // connections leaves collections to run), then the quieter of two half windows, doubled. Once,
    // measured over one window right after the connections, it was above the observed window's CPU
    // (a collection in it), and the observe() rows came out negative.
    await sleep(2000);
    const halves = [];
    for (let i = 0; i < 2; i++) {
      const at = process.cpuUsage();
      await sleep(WINDOW / 2);
      halves.push(cpuUs(at));
    }
    figures.idleCpuUs = 2 * Math.min(...halves);
    let cpu0 = process.cpuUsage();
    const children0 = childrenCpuUs();
    let rows = 0;
    for (let t = 0; t < WINDOW; t += INTERVAL) {
      rows = ssOnce(server.address().port);
      await sleep(INTERVAL);
    }
    figures.ssRows = rows;
    figures.ssParseCpuUs = Math.max(0, cpuUs(cpu0) - figures.idleCpuUs);
    figures.ssCpuUs = childrenCpuUs() - children0;
    await h.release();
    server.close();
  }

  // 2. Heap per observed connection, each figure from a fresh process (bench/observe-heap.js):
  // nothing of another measurement is on its heap.
  progress('observe() vs ss: heap per observed connection (fresh processes: none, no exporter, prom-client)');
  {
    const heap = (mode) => {
      const run = spawnSync(process.execPath, [path.join(__dirname, 'observe-heap.js'), mode, String(CONNECTIONS)], { encoding: 'utf8', timeout: 60000 });
      const result = JSON.parse(run.stdout.trim().split('\n').pop());
      if (result.connections !== CONNECTIONS) throw new Error(`observe-heap ${mode}: ${result.connections} connections`);
      return result.heapUsed;
    };
    const none = heap('none');
    figures.heapPlainPerConnection = (heap('plain') - none) / CONNECTIONS;
    figures.heapPromPerConnection = (heap('prom') - none) / CONNECTIONS;
  }

  // 3. observe() with the prom-client exporter, scraped every 10 s: heap, CPU, wake-ups, samples.
  progress(`observe() vs ss: prom-client exporter, ${WINDOW / 1000} s window after a ${(1.6 * INTERVAL) / 1000} s warm-up`);
  {
    const client = require('prom-client');
    const registry = new client.Registry();
    // Samples counted by the exporter itself (the RTT histogram's count): an onSample callback would
    // make the observer build a sample object per sample, which the exporter path does not.
    const counted = async () =>
      (await registry.getSingleMetric('network_tcp_rtt_seconds').get()).values.filter((v) => v.metricName.endsWith('_count')).reduce((a, v) => a + v.value, 0);
    const { server, observer } = await serverWith({ interval: INTERVAL, registry });
    const h = await holder(server.address().port);
    await sleep(1.6 * INTERVAL);
    await registry.metrics();
    // Each wake-up of the observer's timer, counted and timed as Node runs it: the time inside the
    // wake-ups over the samples they took is the cost of a pass (read, decode, exporter updates),
    // without what waking the process costs.
    const timers = new Map();
    let wakeups = 0;
    let inTicks = 0n;
    let tickStart = 0n;
    const ours = (id) => /\.tick\(\)/.test(String(timers.get(id)?._onTimeout));
    const hook = createHook({
      init: (id, type, trigger, resource) => type === 'Timeout' && timers.set(id, resource),
      before: (id) => {
        if (!ours(id)) return;
        wakeups++;
        tickStart = process.hrtime.bigint();
      },
      after: (id) => {
        if (ours(id)) inTicks += process.hrtime.bigint() - tickStart;
      },
      destroy: (id) => timers.delete(id),
    });
    hook.enable();
    const before = await counted();
    const cpu0 = process.cpuUsage();
    for (let t = 0; t < WINDOW; t += INTERVAL) {
      await sleep(INTERVAL);
      await registry.metrics();
    }
    figures.observeCpuUs = cpuUs(cpu0) - figures.idleCpuUs;
    hook.disable();
    const samples = (await counted()) - before;
    figures.wakeupsPerSecond = wakeups / (WINDOW / 1000);
    figures.samplesPerConnection = samples / CONNECTIONS;
    figures.expectedSamplesPerConnection = WINDOW / INTERVAL;
    figures.cpuPerSampleUs = figures.observeCpuUs / samples;
    figures.passPerConnectionUs = Number(inTicks) / 1000 / samples;
    // The floor of a pass: getsockopt(TCP_INFO) alone over the same sockets back to back, into one
    // reused object (each socket's kernel state is cold, as it is for the observer's samples).
    const fds = server.accepted.map((s) => s._handle.fd);
    const reused = {};
    const passes = [];
    for (let p = 0; p < 3; p++) {
      const t0 = process.hrtime.bigint();
      for (const fd of fds) knobs.getTcpInfo(fd, reused);
      passes.push(Number(process.hrtime.bigint() - t0) / 1000 / fds.length);
      await sleep(1000);
    }
    figures.floorPerConnectionUs = passes.sort((a, b) => a - b)[1];
    observer.stop();
    await h.release();
    server.close();
  }
  figures.ratio = figures.observeCpuUs / (figures.ssCpuUs + figures.ssParseCpuUs);
  return figures;
}

/** The rows of the bench's figure table. */
function observeVsSsLines(f) {
  if (f.skipped) return [`| observe() vs ss -tin at ${CONNECTIONS} connections | not measured: ${f.skipped} |`];
  // A window's CPU less the idle baseline is below 0 only within the baseline's own variation.
  const share = (us) => (us < 0 ? "below the idle baseline's variation" : `${((us / (WINDOW * 1000)) * 100).toFixed(2)} % of a core`);
  const goal = (ok, text) => `${text}${ok ? '' : ' **(above the goal)**'}`;
  return [
    `| observe() with prom-client, ${CONNECTIONS} connections, interval ${INTERVAL / 1000} s, scraped every ${INTERVAL / 1000} s (${WINDOW / 1000} s window) | ${share(f.observeCpuUs)}; ${goal(f.ratio <= 1.5, f.observeCpuUs < 0 ? "no ratio to ss's" : `${f.ratio.toFixed(2)}x ss's`)} (goal ≤ 1.5x) |`,
    `| ss -tin every ${INTERVAL / 1000} s, parsed (${f.ssRows} rows) | ${share(f.ssCpuUs + f.ssParseCpuUs)} (ss ${share(f.ssCpuUs)}, parsing ${share(f.ssParseCpuUs)}) |`,
    `| observe(): wake-ups per second; samples per connection in ${WINDOW / 1000} s | ${goal(f.wakeupsPerSecond <= 25, f.wakeupsPerSecond.toFixed(1))} (goal ≤ 25); ${f.samplesPerConnection.toFixed(2)} (the interval asked: ${f.expectedSamplesPerConnection}) |`,
    `| observe(): a pass, per connection (the time inside the wake-ups over their samples: TCP_INFO read, decode, exporter updates) | ${goal(f.passPerConnectionUs <= 2, `${f.passPerConnectionUs.toFixed(2)} µs`)} (goal ≤ 2 µs) |`,
    `| floor: getTcpInfo(fd, reused) alone over the same ${CONNECTIONS} sockets back to back, per socket (median of 3 passes) | ${f.floorPerConnectionUs.toFixed(2)} µs |`,
    `| observe(): the process's CPU per sample, everything included (waking the process, GC, the scrapes) | ${f.cpuPerSampleUs < 0 ? "below the idle baseline's variation" : `${f.cpuPerSampleUs.toFixed(2)} µs`} |`,
    `| observe(): heap per observed connection | ${goal(f.heapPromPerConnection <= 512, `${(f.heapPromPerConnection / 1024).toFixed(2)} KB with prom-client`)} (goal ≤ 0.5 KB); ${(f.heapPlainPerConnection / 1024).toFixed(2)} KB without an exporter |`,
  ];
}

module.exports = { observeVsSs, observeVsSsLines };

if (require.main === module) {
  observeVsSs((line) => console.error(`[bench] ${line}`)).then(
    (f) => console.log(observeVsSsLines(f).join('\n')),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
