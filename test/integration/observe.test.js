'use strict';
// observe() on real servers, agents, connectors and sockets on loopback, exported through the real
// OpenTelemetry metrics SDK and prom-client.
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const knobs = require('../..');
const { RTT_BUCKETS } = require('../../dist/modules/observe/instruments.js');
const { closeAll, track, waitFor, selfSignedCert, noOpenssl, testIf, eachIf, emulated } = require('../helpers');

// These tests read byte counts and round-trip times from the samples; qemu-user (npm run test:arm64)
// copies only the first 4 bytes of TCP_INFO, so there they skip and say so.
const noFullTcpInfo = emulated('TCP_INFO');

afterEach(closeAll);

/** An observer that collects samples; resolves helpers to wait on them. */
function collect(target, options = {}) {
  const samples = [];
  const errors = [];
  const observer = knobs.observe(target, { interval: 50, ...options, onSample: (s) => (options.onSample ? options.onSample(s) : samples.push(s)) });
  observer.on('error', (err) => errors.push(err));
  return { observer, samples, errors, finals: () => samples.filter((s) => s.final) };
}

async function echoServer(handler = (s) => s.pipe(s)) {
  const server = track(net.createServer((s) => track(s) && handler(s)));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('exactly one final sample per connection, read from the open fd, on every close path', () => {
  eachIf(
    [
      ['the peer ends (FIN)', (client) => client.end()],
      ['the server side ends', (client, accepted) => accepted.end()],
      ['destroy()', (client, accepted) => accepted.destroy()],
      ["destroy(err): the socket's 'error'", (client, accepted) => (accepted.on('error', () => {}), accepted.destroy(new Error('boom')))],
      ['a reset from the peer (SO_LINGER 0)', (client) => (knobs.setLinger(client, { enable: true, seconds: 0 }), client.destroy())],
      ['an idle timeout', (client, accepted) => accepted.setTimeout(20, () => accepted.destroy())],
    ],
    () => noFullTcpInfo,
    '%s',
    async (name, close) => {
      let accepted;
      const server = await echoServer((s) => {
        accepted = s;
        s.on('error', () => {});
        s.on('data', () => {});
        s.on('end', () => s.end());
      });
      const { observer, finals } = collect(server, { interval: 60000 });
      const client = track(net.connect(server.address().port, '127.0.0.1'));
      client.on('error', () => {});
      await new Promise((resolve) => client.once('connect', resolve));
      client.write('hello');
      await waitFor(() => accepted && accepted.bytesRead === 5);
      close(client, accepted);
      await waitFor(() => accepted.destroyed && finals().length === 1, { what: 'the final sample' });
      await new Promise((resolve) => setTimeout(resolve, 50)); // no second final arrives
      expect(finals()).toHaveLength(1);
      const info = finals()[0].info;
      expect(info.bytesReceived).toBeGreaterThanOrEqual(5); // read from the fd before it closed
      expect(finals()[0].socket).toBe(accepted);
      expect(observer.connections).toBe(0);
      observer.stop();
    },
  );

  test('1,000 short connections: 1,000 final samples', async () => {
    const server = await echoServer((s) => s.end('bye'));
    const { observer, finals } = collect(server, { interval: 60000 });
    const port = server.address().port;
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(
        Array.from(
          { length: 50 },
          () =>
            new Promise((resolve) =>
              net
                .connect(port, '127.0.0.1')
                .on('data', () => {})
                .on('close', resolve)
                .on('error', resolve),
            ),
        ),
      );
    }
    await waitFor(() => finals().length === 1000, { what: '1,000 final samples' });
    expect(new Set(finals().map((s) => s.socket)).size).toBe(1000);
    observer.stop();
  });
});

describe('what is sampled', () => {
  test('periodic samples on a jittered interval (10 %-110 %), then the final one; stop() ends them', async () => {
    const server = await echoServer();
    const at = [];
    const { observer, samples } = collect(server, { interval: 40, onSample: (s) => samples.push(s) && at.push(performance.now()) });
    const client = track(net.connect(server.address().port, '127.0.0.1'));
    await new Promise((resolve) => client.once('connect', resolve));
    await waitFor(() => samples.length >= 8, { what: 'eight periodic samples' });
    expect(samples.every((s) => !s.final && s.info.state === 'ESTABLISHED')).toBe(true);
    // Each wait is 4 to 44 ms (10 %-110 % of 40), give or take the timer's own lateness; not constant.
    const gaps = at.slice(1, 8).map((t, i) => t - at[i]);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(3);
    for (const gap of gaps) expect(gap).toBeLessThan(44 + 40);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeGreaterThan(2);
    expect('drift' in samples[0]).toBe(false); // present only with a tuning
    observer.stop();
    const count = samples.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    client.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(samples.length).toBe(count); // nothing after stop(), not even the final one
  });

  test('drift: the tuning fields the kernel no longer holds; empty when it holds them all', async () => {
    const tuning = { keepAlive: { idle: 61, interval: 11, count: 4 }, userTimeout: 45000 };
    const server = await echoServer();
    knobs.tuneServer(server, tuning);
    const { observer, samples } = collect(server, { interval: 30, tuning });
    const client = track(net.connect(server.address().port, '127.0.0.1'));
    await new Promise((resolve) => client.once('connect', resolve));
    await waitFor(() => samples.length >= 1);
    expect(samples[0].drift).toEqual([]);
    // Node's own setKeepAlive on the accepted socket resets idle, interval and count.
    samples[0].socket.setKeepAlive(true, 5000);
    const before = samples.length;
    await waitFor(() => samples.length > before && samples[samples.length - 1].drift.length > 0);
    expect(samples[samples.length - 1].drift).toEqual(['keepAlive.idle', 'keepAlive.interval', 'keepAlive.count']);
    observer.stop();
  });

  test("an onSample that throws is the observer's 'error'; the connection closes normally", async () => {
    const server = await echoServer();
    const errors = [];
    const observer = knobs.observe(server, {
      interval: 60000,
      onSample: () => {
        throw new Error('exporter down');
      },
    });
    observer.on('error', (err) => errors.push(err));
    const client = track(net.connect(server.address().port, '127.0.0.1'));
    const closed = new Promise((resolve) => client.once('close', resolve));
    await new Promise((resolve) => client.once('connect', resolve));
    client.end();
    await closed;
    await waitFor(() => errors.length === 1);
    expect(errors[0].message).toBe('exporter down');
    observer.stop();
  });

  test('bad input: typed errors before anything is registered', () => {
    expect(() => knobs.observe({})).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => knobs.observe(() => {})).toThrow(/tuneConnector/);
    expect(() => knobs.observe(net.createServer(), { interval: '1.5ms' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => knobs.observe(net.createServer(), { intervall: 5 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => knobs.observe(net.createServer(), { attributes: { a: {} } })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => knobs.observe(net.createServer(), { meter: {} })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    const dead = new net.Socket();
    dead.destroy();
    expect(() => knobs.observe(dead)).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_CLOSED' }));
  });
});

describe('clients', () => {
  testIf(noFullTcpInfo, 'an http.Agent: the sockets it already pools and the new ones; stop() leaves nothing registered', async () => {
    const server = track(http.createServer((req, res) => res.end('ok')));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    const get = () =>
      new Promise((resolve, reject) =>
        http.get({ host: '127.0.0.1', port: server.address().port, agent }, (res) => res.resume().on('end', resolve)).on('error', reject),
      );
    await get(); // one socket in the pool before observe()
    await new Promise((resolve) => setImmediate(resolve));
    const { observer, samples, finals } = collect(agent, { interval: 30 });
    expect(observer.connections).toBe(1);
    await Promise.all([get(), get()]);
    await waitFor(() => new Set(samples.map((s) => s.socket)).size === 2);
    agent.destroy();
    await waitFor(() => finals().length === 2);
    for (const s of finals()) expect(s.info.bytesAcked).toBeGreaterThan(0);
    observer.stop();
    expect(Object.hasOwn(agent, 'createConnection')).toBe(false);
    expect(Object.hasOwn(agent, 'keepSocketAlive')).toBe(false);
  });

  testIf(noOpenssl(), 'an https.Agent: one sample series per kernel socket (the TLS socket is the TCP one)', async () => {
    const { key, cert } = selfSignedCert();
    const server = track(https.createServer({ key, cert }, (req, res) => res.end('ok')));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = new https.Agent({ keepAlive: true, ca: cert });
    const { observer, finals } = collect(agent, { interval: 60000 });
    await new Promise((resolve, reject) =>
      https
        .get({ host: '127.0.0.1', port: server.address().port, servername: 'localhost', agent }, (res) => res.resume().on('end', resolve))
        .on('error', reject),
    );
    agent.destroy();
    await waitFor(() => finals().length === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(finals()).toHaveLength(1);
    observer.stop();
  });

  test('an undici connector made with tuneConnector, and one socket', async () => {
    const undici = require('undici');
    const server = track(http.createServer((req, res) => res.end('ok')));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const connect = knobs.tuneConnector(undici.buildConnector({}), { noDelay: true });
    const { observer, samples } = collect(connect, { interval: 20 });
    const dispatcher = new undici.Agent({ connect });
    const res = await undici.request(`http://127.0.0.1:${server.address().port}/`, { dispatcher });
    await res.body.text();
    await waitFor(() => samples.length >= 1);
    expect(samples[0].info.state).toBe('ESTABLISHED');
    await dispatcher.close();
    observer.stop();

    const one = track(net.connect(server.address().port, '127.0.0.1'));
    const single = collect(one, { interval: 20 }); // still connecting: observed from 'connect'
    await waitFor(() => single.samples.length >= 2);
    one.destroy();
    await waitFor(() => single.finals().length === 1);
    single.observer.stop();
  });
});

describe('exporters', () => {
  testIf(noFullTcpInfo, 'OpenTelemetry: the network.tcp.* instruments, with the attributes and the role', async () => {
    const { MeterProvider, PeriodicExportingMetricReader, InMemoryMetricExporter, AggregationTemporality } = require('@opentelemetry/sdk-metrics');
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60000 });
    const provider = new MeterProvider({ readers: [reader] });
    const meter = provider.getMeter('test');
    const server = await echoServer();
    const { observer, finals } = collect(server, { interval: 20, meter, attributes: { 'server.name': 'api' } });
    const client = track(net.connect(server.address().port, '127.0.0.1'));
    await new Promise((resolve) => client.once('connect', resolve));
    client.write(Buffer.alloc(100000));
    await new Promise((resolve) => setTimeout(resolve, 100));
    client.end();
    await waitFor(() => finals().length === 1);
    await reader.forceFlush();
    const metrics = exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
    const byName = Object.fromEntries(metrics.map((m) => [m.descriptor.name, m]));
    expect(byName['network.tcp.rtt'].descriptor.unit).toBe('s');
    expect(byName['network.tcp.min_rtt'].dataPoints[0].attributes).toEqual({ 'server.name': 'api', 'socket_knobs.role': 'server' });
    // Bucket advice fit for seconds (tens of µs to seconds), not the SDK's default for milliseconds:
    // the loopback RTTs (tens of µs) spread over the lower buckets instead of all landing in the first.
    const rtt = byName['network.tcp.rtt'].dataPoints[0].value;
    expect(rtt.buckets.boundaries).toEqual(RTT_BUCKETS);
    expect(
      byName['network.tcp.delivery_rate'].dataPoints.length === 0 || byName['network.tcp.delivery_rate'].dataPoints[0].value.buckets.boundaries[0] === 1e3,
    ).toBe(true);
    expect(rtt.buckets.counts[0]).toBeLessThan(rtt.count); // not every sample in the first bucket
    // Every counter has a series from the connection's first sample, 0 where nothing happened.
    for (const name of ['network.tcp.packets_retransmitted', 'network.tcp.retransmission_timeouts']) {
      expect({ name, points: byName[name]?.dataPoints.length }).toEqual({ name, points: 1 });
      expect(byName[name].dataPoints[0].value).toBe(0);
    }
    // Drift is checked only against a tuning: without one, no series claims there is none.
    expect(byName['network.tcp.tuning_drift']?.dataPoints ?? []).toEqual([]);
    expect(byName['network.tcp.min_rtt'].dataPoints[0].value.count).toBeGreaterThan(1);
    expect(byName['network.tcp.bytes_sent'].descriptor.unit).toBe('By');
    // The server echoed the 100,000 bytes: its counter says so, summed over the deltas.
    expect(byName['network.tcp.bytes_sent'].dataPoints[0].value).toBeGreaterThanOrEqual(100000);
    observer.stop();
    await provider.shutdown();
  });

  testIf(noFullTcpInfo, 'prom-client: the same as network_tcp_*, reused by a second observe() on the registry', async () => {
    const client = require('prom-client');
    const registry = new client.Registry();
    const server = await echoServer();
    const first = collect(server, { interval: 20, registry, attributes: { 'server.name': 'api' } });
    const second = collect(server, { interval: 20, registry, attributes: { 'server.name': 'other' } });
    const c = track(net.connect(server.address().port, '127.0.0.1'));
    await new Promise((resolve) => c.once('connect', resolve));
    c.write(Buffer.alloc(50000));
    await waitFor(() => first.samples.length >= 2 && second.samples.length >= 2);
    const text = await registry.metrics();
    expect(text).toMatch(/network_tcp_min_rtt_seconds_bucket\{le="[^"]+",server_name="api",socket_knobs_role="server"\}/);
    // The unit once: bytes_sent says bytes already.
    expect(text).toMatch(/network_tcp_bytes_sent_total\{server_name="other",socket_knobs_role="server"\} \d+/);
    expect(text).not.toMatch(/_bytes_bytes|bytes_sent_bytes/);
    // A healthy connection's retransmissions read 0 from the first sample, not "no data".
    expect(text).toMatch(/network_tcp_packets_retransmitted_total\{server_name="api",socket_knobs_role="server"\} 0/);
    expect(text).toMatch(/# TYPE network_tcp_packets_retransmitted_total counter/);
    // Another observe() with other attribute names on the same registry is its own series.
    const third = collect(server, { interval: 20, registry, attributes: { team: 'x' } });
    const d = track(net.connect(server.address().port, '127.0.0.1'));
    await new Promise((resolve) => d.once('connect', resolve));
    await waitFor(() => third.samples.length >= 1);
    expect(await registry.metrics()).toMatch(/network_tcp_packets_sent_total\{team="x",socket_knobs_role="server"\} \d+/);
    third.observer.stop();
    first.observer.stop();
    second.observer.stop();
  });
});

describe('the schedule: the mean interval is the one asked, and wake-ups are grouped', () => {
  testIf(
    noFullTcpInfo,
    '300 connections at 400 ms for 4 s: about 10 samples each (not 1.67x), at most 25 wake-ups a second',
    async () => {
      const { createHook } = require('node:async_hooks');
      const server = await echoServer();
      const CONNECTIONS = 300;
      const INTERVAL = 400;
      const SPAN = 4000;
      // Every wake-up of the observer's timer, counted as Node runs it (the timer's callback calls tick()).
      let wakeups = 0;
      const hook = createHook({
        before(asyncId) {
          const resource = timers.get(asyncId);
          if (resource && /\.tick\(\)/.test(String(resource._onTimeout))) wakeups++;
        },
        init(asyncId, type, triggerAsyncId, resource) {
          if (type === 'Timeout') timers.set(asyncId, resource);
        },
        destroy(asyncId) {
          timers.delete(asyncId);
        },
      });
      const timers = new Map();
      let samples = 0;
      hook.enable();
      const observer = knobs.observe(server, { interval: INTERVAL, onSample: (s) => (s.final ? 0 : samples++) });
      // observe(server) sees connections accepted from now on: these are observed one by one as they arrive.
      const observed = await Promise.all(
        Array.from(
          { length: CONNECTIONS },
          () =>
            new Promise((resolve) => {
              const c = track(net.connect(server.address().port, '127.0.0.1', () => resolve(c)));
            }),
        ),
      );
      await waitFor(() => observer.connections === CONNECTIONS);
      samples = 0;
      wakeups = 0;
      await new Promise((resolve) => setTimeout(resolve, SPAN));
      const counted = { samples, wakeups };
      observer.stop();
      hook.disable();
      for (const c of observed) c.destroy();
      // A renewal process with waits uniform in [0.5, 1.5) x the interval: SPAN / INTERVAL samples per
      // connection on average (10 here; the old 10-110 % waits gave 16.7).
      const perConnection = counted.samples / CONNECTIONS;
      console.log(`schedule: ${perConnection.toFixed(2)} samples per connection in ${SPAN} ms at ${INTERVAL} ms; ${counted.wakeups} wake-ups`);
      expect(perConnection).toBeGreaterThan(0.85 * (SPAN / INTERVAL));
      expect(perConnection).toBeLessThan(1.1 * (SPAN / INTERVAL));
      expect(counted.wakeups).toBeGreaterThan(0);
      expect(counted.wakeups).toBeLessThanOrEqual((25 * SPAN) / 1000 + 2);
    },
    30000,
  );
});
