'use strict';
// observe()'s exporters scraped for real: prom-client's Registry and OpenTelemetry's Prometheus
// exporter (@opentelemetry/exporter-prometheus on the metrics SDK), each served over HTTP on
// loopback and fetched as Prometheus would. Every query docs/guides/observe.md gives is checked
// against the scrape of the exporter it is spelled for; registration is whole or nothing, typed;
// stop() takes back what it reported; observeServers() sees every server; a cluster aggregates.
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const client = require('prom-client');
const { MeterProvider } = require('@opentelemetry/sdk-metrics');
const { PrometheusExporter } = require('@opentelemetry/exporter-prometheus');
const knobs = require('../..');
const { INSTRUMENTS, QUERIES, spell, promClientName, otelPrometheusName } = require('../../dist/modules/observe/instruments.js');
const { closeAll, track, waitFor, testIf, emulated, hasIPv6, thrown } = require('../helpers');

const noFullTcpInfo = emulated('TCP_INFO');
const LINUX = process.platform === 'linux';
const TUNING = { keepAlive: { idle: 61, interval: 11, count: 4 }, userTimeout: 45000 };

afterEach(closeAll);

/** Serves `handler` on loopback and fetches it once, as a Prometheus scrape would. */
async function scrape(handler) {
  const server = track(http.createServer(handler));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const res = await fetch(`http://127.0.0.1:${server.address().port}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  server.close();
  return text;
}

const scrapeRegistry = (registry) =>
  scrape(async (req, res) => {
    res.setHeader('content-type', registry.contentType);
    res.end(await registry.metrics());
  });

/** An OpenTelemetry meter whose Prometheus exporter is scraped through its own request handler. */
function otelPrometheus() {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [exporter] });
  return { meter: provider.getMeter('socket-knobs'), scrape: () => scrape((req, res) => exporter.getMetricsRequestHandler(req, res)), provider };
}

/**
 * An OpenTelemetry meter read with delta temporality: each collection has exactly what the
 * callbacks observed in it. (With cumulative temporality, as the Prometheus exporter reads, the JS
 * SDK through 2.x keeps exporting the last value of every attribute set an observable gauge ever
 * reported, which the metrics SDK spec says it SHOULD NOT: docs/guides/observe.md says so.)
 */
function otelDelta() {
  const { PeriodicExportingMetricReader, InMemoryMetricExporter, AggregationTemporality } = require('@opentelemetry/sdk-metrics');
  const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 600000 });
  const provider = new MeterProvider({ readers: [reader] });
  return {
    meter: provider.getMeter('socket-knobs'),
    provider,
    /** The server.name of each accept-queue limit point of the next collection. */
    limits: async () => {
      exporter.reset();
      await reader.forceFlush();
      const metrics = exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
      const limit = metrics.find((m) => m.descriptor.name === 'network.tcp.accept_queue.limit');
      return (limit?.dataPoints ?? []).map((p) => p.attributes['server.name']).sort();
    },
  };
}

/** The series names (metric families) of a scrape: one per sample line. */
function seriesOf(text) {
  return new Set(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.match(/^[a-zA-Z_:][a-zA-Z0-9_:]*/)[0]),
  );
}

/** A server that sends `bytes` to each client (bulk: some samples are not application-limited), observed. */
async function bulkServer(bytes) {
  const server = track(
    net.createServer((s) => {
      track(s);
      s.on('error', () => {});
      s.end(Buffer.alloc(bytes));
    }),
  );
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function fetchAll(server, clients) {
  await Promise.all(
    Array.from(
      { length: clients },
      () =>
        new Promise((resolve, reject) => {
          const c = track(net.connect(server.address().port, '127.0.0.1'));
          c.on('error', reject);
          c.resume();
          c.on('end', resolve);
        }),
    ),
  );
}

describe('the guide: one instrument table, two spellings, each query against a real scrape of its exporter', () => {
  testIf(
    noFullTcpInfo,
    'every series and label each query names is in the scrape of the exporter it is spelled for',
    async () => {
      const registry = new client.Registry();
      const otel = otelPrometheus();
      const server = await bulkServer(8 << 20);
      let notAppLimited = 0;
      const observer = knobs.observe(server, {
        interval: 5,
        registry,
        meter: otel.meter,
        tuning: TUNING,
        attributes: { 'server.name': 'api' },
        onSample: (s) => (notAppLimited += s.info.deliveryRateAppLimited === false && s.info.deliveryRate > 0 ? 1 : 0),
      });
      knobs.tuneServer(server, TUNING);
      for (let round = 0; round < 20 && notAppLimited === 0; round++) await fetchAll(server, 4);
      expect(notAppLimited).toBeGreaterThan(0);
      const scrapes = { 'prom-client': await scrapeRegistry(registry), OpenTelemetry: await otel.scrape() };
      observer.stop();
      await otel.provider.shutdown();
      const known = new Set(INSTRUMENTS.flatMap((i) => [promClientName(i), otelPrometheusName(i)]));
      for (const [spelling, text] of Object.entries(scrapes)) {
        const present = seriesOf(text);
        // Every instrument of the table is in each scrape under the name the docs give it.
        for (const i of INSTRUMENTS) {
          const name = spelling === 'prom-client' ? promClientName(i) : otelPrometheusName(i);
          const family = i.kind === 'histogram' ? `${name}_bucket` : name;
          expect({ spelling, family, present: present.has(family) }).toEqual({ spelling, family, present: true });
        }
        for (const query of QUERIES) {
          const promql = spell(query, spelling);
          const names = [...promql.matchAll(/[a-z_]+/g)].map((m) => m[0]).filter((n) => known.has(n.replace(/_bucket$/, '')));
          expect(names.length).toBeGreaterThan(0);
          for (const name of names) expect({ spelling, promql, name, present: present.has(name) }).toEqual({ spelling, promql, name, present: true });
          // The labels it groups by are the exporter's label names (Prometheus adds `instance` itself).
          for (const [, by] of promql.matchAll(/by \(([^)]*)\)/g)) {
            for (const label of by
              .split(',')
              .map((l) => l.trim())
              .filter((l) => l !== 'instance')) {
              expect({ spelling, label, present: new RegExp(`[{,]${label}=`).test(text) }).toEqual({ spelling, label, present: true });
            }
          }
        }
      }
      // The two spellings differ exactly as documented: prom-client puts the unit in once, the
      // OpenTelemetry exporter never does; both end counters in _total.
      expect(scrapes['prom-client']).toMatch(/^network_tcp_rtt_seconds_bucket\{le="0\.0001",server_name="api",socket_knobs_role="server"\} \d+$/m);
      expect(scrapes.OpenTelemetry).toMatch(/^network_tcp_rtt_bucket\{[^}]*server_name="api"[^}]*le="0\.0001"\} \d+$/m);
      expect(scrapes['prom-client']).toMatch(/^network_tcp_bytes_sent_total\{server_name="api",socket_knobs_role="server"\} \d+$/m);
      expect(scrapes.OpenTelemetry).toMatch(/^network_tcp_bytes_sent_total\{[^}]*server_name="api"[^}]*\} \d+/m);
      expect(scrapes.OpenTelemetry).not.toMatch(/^\w+(_seconds|_bytes_per_second)(_bucket|_sum|_count)?[{ ]/m);
      expect(scrapes['prom-client']).toMatch(/^network_tcp_delivery_rate_bytes_per_second_bucket\{/m);
    },
    60000,
  );

  test('the guide shows the generated table and queries', () => {
    const guide = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'guides', 'observe.md'), 'utf8');
    for (const i of INSTRUMENTS) expect(guide).toContain(`\`${promClientName(i)}\` | \`${otelPrometheusName(i)}\``);
    for (const q of QUERIES) {
      expect(guide).toContain(spell(q, 'prom-client'));
      expect(guide).toContain(spell(q, 'OpenTelemetry'));
    }
  });
});

describe('exporters fail typed and whole, and stop() takes back what it reported', () => {
  test('a registry or meter that is not one is a typed error, and nothing is hooked on the target', async () => {
    const server = await bulkServer(1);
    for (const [options, name] of [
      [{ registry: {} }, 'options.registry'],
      [{ registry: { registerMetric() {} } }, 'options.registry'],
      [{ registry: 'default' }, 'options.registry'],
      [{ meter: {} }, 'options.meter'],
      [{ meter: { createHistogram() {}, createCounter() {} } }, 'options.meter'],
    ]) {
      const err = thrown(() => knobs.observe(server, options));
      expect(err).toBeInstanceOf(knobs.SocketOptionError);
      expect({ code: err.code, message: err.message.startsWith(`The "${name}"`) || err.message.includes(name) }).toEqual({
        code: 'ERR_INVALID_ARG_VALUE',
        message: true,
      });
    }
    expect(server.listeners('connection').length).toBe(1);
  });

  test('a name taken by anything else refuses the whole registration: nothing is added, and the registry stays usable', async () => {
    const server = await bulkServer(1);
    const registry = new client.Registry();
    new client.Gauge({ name: 'network_tcp_accept_queue', help: 'someone else', registers: [registry] });
    const err = thrown(() => knobs.observe(server, { registry }));
    expect(err).toBeInstanceOf(knobs.SocketOptionError);
    expect(err.message).toMatch(/already has a metric named network_tcp_accept_queue that observe\(\) did not register/);
    expect(registry.getMetricsAsArray().map((m) => m.name)).toEqual(['network_tcp_accept_queue']);
    expect(server.listeners('connection').length).toBe(1);
    // A registerMetric() that throws halfway: what was registered is taken back.
    const flaky = new client.Registry();
    const register = flaky.registerMetric.bind(flaky);
    flaky.registerMetric = (m) => {
      if (m.name === 'network_tcp_bytes_sent_total') throw new Error('full');
      register(m);
    };
    const half = thrown(() => knobs.observe(server, { registry: flaky }));
    expect(half).toBeInstanceOf(knobs.SocketOptionError);
    expect(half.message).toMatch(/registerMetric\(\) threw: full/);
    expect(flaky.getMetricsAsArray()).toEqual([]);
    // With a meter beside it, the meter's observer is taken back too: its next collection has nothing of it.
    const otel = otelPrometheus();
    expect(thrown(() => knobs.observe(server, { registry: flaky, meter: otel.meter }))).toBeInstanceOf(knobs.SocketOptionError);
    expect(await otel.scrape()).not.toMatch(/^network_tcp_accept_queue\{/m);
    // The other name freed, observe() registers whole.
    registry.removeSingleMetric('network_tcp_accept_queue');
    const observer = knobs.observe(server, { registry });
    expect(registry.getMetricsAsArray().length).toBe(INSTRUMENTS.length);
    observer.stop();
    await otel.provider.shutdown();
  });

  // The accept-queue gauges come from the listener's TCP_INFO, of which qemu-user copies 4 bytes.
  testIf(
    noFullTcpInfo,
    "the last observer's stop() unregisters everything; the accept-queue gauges of a stopped observer are gone from both exporters",
    async () => {
      const server = await bulkServer(1);
      const registry = new client.Registry();
      const otel = otelDelta();
      const first = knobs.observe(server, { registry, meter: otel.meter, attributes: { 'server.name': 'a' } });
      const second = knobs.observe(server, { registry, meter: otel.meter, attributes: { 'server.name': 'b' } });
      let text = await scrapeRegistry(registry);
      expect(text).toMatch(/^network_tcp_accept_queue_limit\{server_name="a"/m);
      expect(text).toMatch(/^network_tcp_accept_queue_limit\{server_name="b"/m);
      expect(await otel.limits()).toEqual(['a', 'b']);
      first.stop();
      text = await scrapeRegistry(registry);
      expect(text).not.toMatch(/server_name="a"/);
      expect(text).toMatch(/^network_tcp_accept_queue_limit\{server_name="b"/m);
      expect(await otel.limits()).toEqual(['b']);
      second.stop();
      expect(registry.getMetricsAsArray()).toEqual([]);
      expect(await otel.limits()).toEqual([]);
      // A new observer on the same registry registers again.
      const third = knobs.observe(server, { registry });
      expect(registry.getMetricsAsArray().length).toBe(INSTRUMENTS.length);
      third.stop();
      await otel.provider.shutdown();
    },
  );

  testIf(noFullTcpInfo, 'two copies of the package on one registry share its exporter: both series, no error, all gone when both stop', async () => {
    let other;
    jest.isolateModules(() => {
      other = require('../..');
    });
    expect(other).not.toBe(knobs);
    const registry = new client.Registry();
    const server = await bulkServer(10000);
    const one = knobs.observe(server, { registry, interval: 20, attributes: { copy: 'one' } });
    const two = other.observe(server, { registry, interval: 20, attributes: { copy: 'two' } });
    await fetchAll(server, 2);
    const text = await scrapeRegistry(registry);
    expect(text).toMatch(/^network_tcp_bytes_sent_total\{copy="one",socket_knobs_role="server"\} [1-9]\d*$/m);
    expect(text).toMatch(/^network_tcp_bytes_sent_total\{copy="two",socket_knobs_role="server"\} [1-9]\d*$/m);
    one.stop();
    two.stop();
    expect(registry.getMetricsAsArray()).toEqual([]);
  });

  test('prom-client is never loaded by observe(): the registry is all it needs', () => {
    const run = spawnSync(
      process.execPath,
      [
        '-e',
        `const Module = require('module'); const load = Module._load; let loaded = false;
         Module._load = function (request, ...rest) { if (/prom-client/.test(request)) loaded = true; return load.call(this, request, ...rest); };
         const knobs = require(${JSON.stringify(path.join(__dirname, '..', '..'))});
         const Registry = require(${JSON.stringify(require.resolve('prom-client/lib/registry'))});
         loaded = false;
         const registry = new Registry();
         const o = knobs.observe(require('net').createServer(), { registry });
         registry.metrics().then((text) => { o.stop(); console.log(JSON.stringify({ loaded, families: (text.match(/^# TYPE/gm) || []).length })); });`,
      ],
      { encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout);
    expect(result.loaded).toBe(false);
    expect(result.families).toBe(INSTRUMENTS.length);
  });
});

describe('drift per field and the namespace defaults', () => {
  testIf(noFullTcpInfo, "socket.setKeepAlive() behind the package's back: the drift gauge names the fields and counts that connection only", async () => {
    const registry = new client.Registry();
    const accepted = [];
    const server = track(net.createServer((s) => accepted.push(track(s))));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    knobs.tuneServer(server, TUNING);
    const samples = [];
    const observer = knobs.observe(server, { registry, interval: 20, tuning: TUNING, onSample: (s) => samples.push(s) });
    const clients = [0, 1, 2].map(() => track(net.connect(server.address().port, '127.0.0.1')));
    await waitFor(() => accepted.length === 3 && samples.length >= 3);
    accepted[1].setKeepAlive(true, 1000); // Node: idle 1 s, and (Linux) interval 1 s, count 10
    await waitFor(() => samples.some((s) => s.socket === accepted[1] && s.drift.length > 0));
    await new Promise((resolve) => setTimeout(resolve, 60));
    const text = await scrapeRegistry(registry);
    const gauge = (field) => Number(text.match(new RegExp(`^socket_knobs_tuning_drifted_connections\\{socket_knobs_field="${field}"\\} (\\d+)$`, 'm'))?.[1]);
    expect({ idle: gauge('keepAlive\\.idle'), interval: gauge('keepAlive\\.interval'), count: gauge('keepAlive\\.count') }).toEqual({
      idle: 1,
      interval: 1,
      count: 1,
    });
    expect(gauge('userTimeout')).toBe(0); // tuned, holds: a 0, not no data
    expect(gauge('keepAlive\\.enable')).toBe(0);
    // The drifted connection closes: the gauge counts observed connections only.
    accepted[1].destroy();
    await waitFor(() => observer.connections === 2);
    expect(await scrapeRegistry(registry)).toMatch(/^socket_knobs_tuning_drifted_connections\{socket_knobs_field="keepAlive.interval"\} 0$/m);
    observer.stop();
    for (const c of clients) c.destroy();
  });

  testIf(LINUX ? null : '/proc/sys is Linux-only', 'the sysctl gauges read the namespace at each scrape, in the sysctl’s own unit', async () => {
    const registry = new client.Registry();
    const observer = knobs.observe(net.createServer(), { registry });
    const text = await scrapeRegistry(registry);
    for (const [name, unit] of [
      ['tcp_keepalive_time', '_seconds'],
      ['tcp_keepalive_intvl', '_seconds'],
      ['tcp_keepalive_probes', ''],
      ['tcp_retries2', ''],
      ['tcp_syn_retries', ''],
      ['tcp_fin_timeout', '_seconds'],
    ]) {
      const value = fs.readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim();
      expect(text).toMatch(new RegExp(`^socket_knobs_sysctl_${name}${unit} ${value}$`, 'm'));
    }
    const algorithm = fs.readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim();
    expect(text).toMatch(new RegExp(`^socket_knobs_sysctl_tcp_congestion_control\\{algorithm="${algorithm}"\\} 1$`, 'm'));
    observer.stop();
  });
});

describe('observeServers(): every server of the process, as it starts listening', () => {
  testIf(
    noFullTcpInfo,
    'two servers on one port (127.0.0.1 and ::1, as Fastify on localhost) and a ws server from { port }: all observed; filter scopes it',
    async () => {
      const registry = new client.Registry();
      const seen = new Map();
      const observer = knobs.observeServers({
        registry,
        interval: 20,
        filter: (server) => server.address()?.address !== '127.0.0.2',
        // An accepted socket's `server` is the server that accepted it (ws's: its http server).
        onSample: (s) => s.final && seen.set(s.socket.server, (seen.get(s.socket.server) ?? 0) + s.info.bytesSent),
      });
      const v6 = await hasIPv6();
      const first = track(net.createServer((s) => s.end(Buffer.alloc(30000))));
      await new Promise((resolve) => first.listen(0, '127.0.0.1', resolve));
      const port = first.address().port;
      const second = track(net.createServer((s) => s.end(Buffer.alloc(30000))));
      if (v6) await new Promise((resolve) => second.listen(port, '::1', resolve));
      const filtered = track(net.createServer((s) => s.end(Buffer.alloc(30000))));
      await new Promise((resolve) => filtered.listen(0, '127.0.0.2', resolve));
      const { WebSocketServer, WebSocket } = require('ws');
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
      await new Promise((resolve) => wss.once('listening', resolve));
      wss.on('connection', (ws) => ws.send(Buffer.alloc(30000)));
      const get = (host, p) =>
        new Promise((resolve) => {
          const c = track(net.connect(p, host));
          c.resume();
          c.on('end', resolve);
        });
      await get('127.0.0.1', port);
      if (v6) await get('::1', port);
      await get('127.0.0.2', filtered.address().port);
      const ws = new WebSocket(`ws://127.0.0.1:${wss.address().port}`);
      await new Promise((resolve) => ws.once('message', resolve));
      ws.close();
      const wsServer = wss._server;
      await waitFor(() => seen.get(first) >= 30000 && seen.get(wsServer) >= 30000 && (!v6 || seen.get(second) >= 30000), {
        what: 'the final samples of every server',
      });
      expect(seen.has(filtered)).toBe(false);
      expect(seen.size).toBe(v6 ? 3 : 2);
      // Both listeners of the port report their accept queue, each with its own address.
      const text = await scrapeRegistry(registry);
      expect(text).toMatch(new RegExp(`^network_tcp_accept_queue_limit\\{socket_knobs_role="server",server_address="127.0.0.1",server_port="${port}"\\}`, 'm'));
      if (v6)
        expect(text).toMatch(new RegExp(`^network_tcp_accept_queue_limit\\{socket_knobs_role="server",server_address="::1",server_port="${port}"\\}`, 'm'));
      expect(text).not.toMatch(/server_address="127.0.0.2"/);
      // A closed server is let go; stop() ends the rest.
      await new Promise((resolve) => first.close(resolve));
      expect(await scrapeRegistry(registry)).not.toMatch(new RegExp(`server_address="127.0.0.1",server_port="${port}"`));
      observer.stop();
      wss.close();
      expect(registry.getMetricsAsArray()).toEqual([]);
      const after = track(net.createServer());
      await new Promise((resolve) => after.listen(0, '127.0.0.1', resolve));
      expect(after.listeners('connection').length).toBe(0);
    },
  );

  test('bad options are typed errors before anything is hooked', () => {
    expect(thrown(() => knobs.observeServers({ filter: 1 })).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => knobs.observeServers({ intervall: 1 })).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => knobs.observeServers({ registry: {} })).code).toBe('ERR_INVALID_ARG_VALUE');
  });
});

describe('the cluster recipe (round-robin workers, AggregatorRegistry)', () => {
  // The bytes come from the workers' TCP_INFO, of which qemu-user (npm run test:arm64) copies 4 bytes.
  testIf(
    LINUX ? noFullTcpInfo : 'the cluster recipe is tested on Linux',
    'the primary aggregates both workers: bytes sum to what the workers sent, namespace defaults are one value, not a sum',
    () => {
      const run = spawnSync(process.execPath, [path.join(__dirname, '..', 'fixtures', 'cluster', 'observe-metrics.js')], { encoding: 'utf8', timeout: 60000 });
      expect(run.stderr).toBe('');
      const result = JSON.parse(run.stdout.trim().split('\n').pop());
      expect(result.error).toBeUndefined();
      const sent = Object.values(result.sent).reduce((a, b) => a + b, 0);
      expect(Object.keys(result.sent).length).toBe(2);
      expect(sent).toBeGreaterThanOrEqual(result.requests * result.body);
      const bytes = Number(result.text.match(/^network_tcp_bytes_sent_total\{server_name="api",socket_knobs_role="server"\} (\d+)$/m)?.[1]);
      expect(bytes).toBe(sent);
      const keepalive = fs.readFileSync('/proc/sys/net/ipv4/tcp_keepalive_time', 'utf8').trim();
      expect(result.text).toMatch(new RegExp(`^socket_knobs_sysctl_tcp_keepalive_time_seconds ${keepalive}$`, 'm'));
      // Round-robin workers listen through the primary: no listener of theirs to read.
      expect(result.text).not.toMatch(/^network_tcp_accept_queue\{/m);
    },
    70000,
  );
});
