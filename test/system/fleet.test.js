'use strict';
// The fleet's view (docs/guides/observe.md), proved with a real Prometheus server: three processes,
// each in its own network namespace with its own sysctl defaults, joined to this namespace by a veth
// pair, scraped every second. One process resets a tuned field behind the package's back; one PromQL
// query names that instance and those fields, and nothing for the other two; the values match what
// `socket-knobs --pid` reads from that process; each instance reports its own namespace's defaults.
// Needs root, iproute2 and Debian's `prometheus` (CI installs it); elsewhere a visible skip.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { unavailableReason } = require('../fixtures/netns/hosts');
const { firstReason, noCommand, testIf, waitFor, emulated } = require('../helpers');

const reason = firstReason(unavailableReason(), noCommand('prometheus', ['--version'], 'apt-get install prometheus'), emulated('TCP_INFO'));
const root = path.join(__dirname, '..', '..');
const DRIFT_QUERY = 'sum by (instance, socket_knobs_field) (socket_knobs_tuning_drifted_connections) > 0';

function run(cmd, args) {
  const out = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10000 });
  if (out.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${out.status}): ${out.stderr || out.error}`);
  return out.stdout;
}

/** A Prometheus HTTP API query's result vector. */
async function query(port, promql) {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = await res.json();
  if (body.status !== 'success') throw new Error(`query ${promql}: ${JSON.stringify(body)}`);
  return body.data.result;
}

/** A loopback port that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Each scrape target's health and last error, from Prometheus's API. */
async function targets(port) {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/targets`);
  const body = await res.json();
  return JSON.stringify(body.data.activeTargets.map((t) => ({ url: t.scrapeUrl, health: t.health, error: t.lastError })));
}

testIf(
  reason,
  "three namespaces, three sysctl defaults, one drift: Prometheus names the instance and its fields, and each namespace's defaults",
  async () => {
    const id = `${process.pid % 10000}`;
    const members = [
      { ns: `skf${id}a`, keepalive: [7200, 75, 9] },
      { ns: `skf${id}b`, keepalive: [600, 60, 5] },
      { ns: `skf${id}c`, keepalive: [300, 30, 3], drift: true },
    ];
    const children = [];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-fleet-'));
    try {
      members.forEach((m, i) => {
        m.host = `10.233.${(process.pid % 200) + i}.2`;
        m.gateway = `10.233.${(process.pid % 200) + i}.1`;
        m.outside = `vf${id}${i}o`;
        run('ip', ['netns', 'add', m.ns]);
        run('ip', ['-n', m.ns, 'link', 'set', 'lo', 'up']);
        run('ip', ['link', 'add', m.outside, 'type', 'veth', 'peer', 'name', `vf${id}${i}i`, 'netns', m.ns]);
        run('ip', ['addr', 'add', `${m.gateway}/30`, 'dev', m.outside]);
        run('ip', ['link', 'set', m.outside, 'up']);
        run('ip', ['-n', m.ns, 'addr', 'add', `${m.host}/30`, 'dev', `vf${id}${i}i`]);
        run('ip', ['-n', m.ns, 'link', 'set', `vf${id}${i}i`, 'up']);
        const [time, intvl, probes] = m.keepalive;
        run('ip', [
          'netns',
          'exec',
          m.ns,
          'sysctl',
          '-q',
          '-w',
          `net.ipv4.tcp_keepalive_time=${time}`,
          `net.ipv4.tcp_keepalive_intvl=${intvl}`,
          `net.ipv4.tcp_keepalive_probes=${probes}`,
        ]);
      });
      for (const m of members) {
        const child = spawn(
          'ip',
          ['netns', 'exec', m.ns, process.execPath, path.join(root, 'test', 'fixtures', 'netns', 'fleet-member.js'), ...(m.drift ? ['--drift'] : [])],
          {
            stdio: ['pipe', 'pipe', 'inherit'],
          },
        );
        children.push(child);
        m.ready = await new Promise((resolve, reject) => {
          let out = '';
          child.stdout.on('data', (d) => {
            out += d;
            if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
          });
          child.once('exit', (code) => reject(new Error(`a fleet member exited (${code})`)));
        });
      }
      // Prometheus, started by the test, scraping the three members over their veths every second,
      // on a port the kernel just handed out (a fixed formula can meet a port in use).
      const port = await freePort();
      fs.writeFileSync(
        path.join(dir, 'prometheus.yml'),
        [
          'global: { scrape_interval: 1s, evaluation_interval: 1s }',
          'scrape_configs:',
          '  - job_name: fleet',
          '    static_configs:',
          `      - targets: [${members.map((m) => `'${m.host}:9464'`).join(', ')}]`,
        ].join('\n'),
      );
      const prometheus = spawn(
        'prometheus',
        [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      children.push(prometheus);
      let log = '';
      prometheus.stderr.on('data', (d) => (log = (log + d).slice(-4000)));
      let exited = null;
      prometheus.once('exit', (code, signal) => (exited = `${code ?? signal}`));
      try {
        await waitFor(
          async () => {
            if (exited !== null) throw new Error(`prometheus exited (${exited})`);
            return (await query(port, 'up == 1').catch(() => [])).length === 3;
          },
          { ms: 45000, every: 250, what: 'Prometheus scraping all three members' },
        );
      } catch (err) {
        // Say why: each target's last scrape error, and the tail of Prometheus's own log.
        err.message += `\ntargets: ${await targets(port).catch((e) => e.message)}\nprometheus log:\n${log}`;
        throw err;
      }
      const drifted = await waitFor(
        async () => {
          const result = await query(port, DRIFT_QUERY);
          return result.length >= 3 && result;
        },
        { ms: 15000, every: 250, what: 'the drift query' },
      );
      const rows = drifted.map((r) => ({ instance: r.metric.instance, field: r.metric.socket_knobs_field, value: r.value[1] }));
      const driftMember = members.find((m) => m.drift);
      expect(rows.sort((a, b) => a.field.localeCompare(b.field))).toEqual(
        ['keepAlive.count', 'keepAlive.idle', 'keepAlive.interval'].map((field) => ({ instance: `${driftMember.host}:9464`, field, value: '1' })),
      );
      // Each instance reports its own namespace's defaults.
      const defaults = await query(port, 'socket_knobs_sysctl_tcp_keepalive_time_seconds');
      expect(Object.fromEntries(defaults.map((r) => [r.metric.instance, Number(r.value[1])]))).toEqual(
        Object.fromEntries(members.map((m) => [`${m.host}:9464`, m.keepalive[0]])),
      );
      const probes = await query(port, 'socket_knobs_sysctl_tcp_keepalive_probes');
      expect(Object.fromEntries(probes.map((r) => [r.metric.instance, Number(r.value[1])]))).toEqual(
        Object.fromEntries(members.map((m) => [`${m.host}:9464`, m.keepalive[2]])),
      );
      // What the query says drifted is what the kernel holds: socket-knobs --pid on that process
      // reads the connection's keepalive as Node's setKeepAlive(true, 1000) left it (ss cannot show it).
      const cli = spawnSync(process.execPath, [path.join(root, 'bin', 'socket-knobs.js'), '--json', '--pid', String(driftMember.ready.pid)], {
        encoding: 'utf8',
      });
      expect(cli.stderr).toBe('');
      const connections = JSON.parse(cli.stdout).connections;
      const reset = connections.find((c) => c.local.endsWith(`:${driftMember.ready.driftedPort}`) && c.remote.endsWith(`:${driftMember.ready.remotePort}`));
      expect(reset.tuning.keepAlive).toMatchObject({ enable: true, idle: 1, interval: 1, count: 10 });
      const held = connections.filter((c) => c.state === 'ESTABLISHED' && c !== reset && c.tuning.userTimeout === 45000);
      expect(held.length).toBe(2);
      for (const c of held) expect(c.tuning.keepAlive).toMatchObject({ enable: true, idle: 61, interval: 11, count: 4 });
      // The guide's alert rules are valid Prometheus rules (promtool, shipped with Prometheus).
      const guide = fs.readFileSync(path.join(root, 'docs', 'guides', 'observe.md'), 'utf8');
      const rules = /<!-- generated:alerts -->[\s\S]*?```yaml\n([\s\S]*?)```/.exec(guide)[1];
      fs.writeFileSync(path.join(dir, 'rules.yml'), rules);
      if (!spawnSync('promtool', ['--version']).error) {
        const check = spawnSync('promtool', ['check', 'rules', path.join(dir, 'rules.yml')], { encoding: 'utf8' });
        expect({ status: check.status, out: check.stdout + check.stderr }).toMatchObject({ status: 0 });
      }
    } finally {
      for (const child of children) child.kill('SIGKILL');
      for (const m of members) spawnSync('ip', ['netns', 'del', m.ns]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  120000,
);
