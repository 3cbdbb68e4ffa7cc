'use strict';
// Proof that the kernel obeys: real TCP between two test hosts (network namespaces joined by a
// veth pair), a peer that goes silent, and the kernel's own verdict. Needs root, iproute2 and
// nftables (CI runs as root and installs them); elsewhere the suite is skipped with the reason.
const path = require('node:path');
const { HostPair, messages, unavailableReason } = require('../fixtures/netns/hosts');
const { runDeadPeer } = require('../fixtures/netns/dead-peer');
const { emulated, firstReason, noCommand, testIf, describeIf } = require('../helpers');

const reason = unavailableReason();
const noTcpdump = noCommand('tcpdump', ['--version'], 'apt-get install tcpdump');
const describeNetns = (name, fn) => describeIf(reason, name, fn);

// Each scenario's connection is watched this long after the path goes silent: long enough that
// the tuned connections are dead (about 3 s) and the untuned ones demonstrably are not.
const WATCH_MS = 6500;

describeNetns('between two hosts whose path goes silent', () => {
  let run;
  beforeAll(async () => {
    run = await runDeadPeer({
      scenarios: ['keepalive', 'defaults-idle', 'user-timeout', 'defaults-writing'],
      watchMs: WATCH_MS,
      capture: !noTcpdump,
    });
  }, 60000);

  const result = (name) => run.results.find((r) => r.name === name);
  const ready = (name) => run.ready.find((r) => r.name === name);
  /** Packets the client sent on `name`'s connection after the path went silent, within the watch. */
  const sentAfterCut = (name) => run.packets.filter((p) => p.fromPort === result(name).localPort && p.at >= run.silencedAt && p.at <= run.cutAt + WATCH_MS);

  test('1. keepalive { idle: 1, interval: 1, count: 2 }: ETIMEDOUT about idle + interval × count seconds after the last data', () => {
    expect(ready('keepalive').readBack.keepAlive).toEqual({ enable: true, idle: 1, interval: 1, count: 2 });
    const r = result('keepalive');
    expect(r.error).toBe('ETIMEDOUT');
    const afterLastData = r.diedAt - r.lastDataAt;
    console.log(`keepalive 1/1/2: ETIMEDOUT ${afterLastData} ms after the last data`);
    expect(afterLastData).toBeGreaterThanOrEqual(2000);
    expect(afterLastData).toBeLessThanOrEqual(6000);
  });

  test('1. TCP_INFO tells the truth: probes rise with each unanswered keepalive probe', () => {
    const probes = result('keepalive').samples.map((s) => s.probes);
    console.log(`keepalive 1/1/2: tcpi_probes sampled every 100 ms after the cut: ${[...new Set(probes)].join(' -> ')}`);
    expect(Math.max(...probes)).toBeGreaterThanOrEqual(1);
    for (let i = 1; i < probes.length; i++) expect(probes[i]).toBeGreaterThanOrEqual(probes[i - 1]);
    // The idle connection with the defaults sends no probe at all.
    expect(Math.max(...result('defaults-idle').samples.map((s) => s.probes))).toBe(0);
  });

  testIf(emulated('TCP_INFO'), 'TCP_INFO on the healthy connection: the round trip acknowledged, a positive RTT', () => {
    for (const name of ['keepalive', 'defaults-idle', 'user-timeout', 'defaults-writing']) {
      const info = ready(name).readBack.tcpInfo;
      expect(info.state).toBe('ESTABLISHED');
      expect(info.bytesAcked).toBeGreaterThanOrEqual(5); // 'hello'
      expect(info.bytesReceived).toBeGreaterThanOrEqual(5);
      expect(info.rtt).toBeGreaterThan(0);
    }
  });

  test('1. the same idle connection with the kernel defaults is still open after that window', () => {
    expect(ready('defaults-idle').readBack.keepAlive.enable).toBe(false);
    expect(result('defaults-idle')).toMatchObject({ alive: true, error: null });
  });

  test('2. TCP_USER_TIMEOUT 2000 ms with data in flight: ETIMEDOUT within the window', () => {
    expect(ready('user-timeout').readBack.userTimeout).toBe(2000);
    const r = result('user-timeout');
    expect(r.error).toBe('ETIMEDOUT');
    const afterWrite = r.diedAt - run.cutAt;
    console.log(`TCP_USER_TIMEOUT 2000: ETIMEDOUT ${afterWrite} ms after the unacknowledged write`);
    expect(afterWrite).toBeGreaterThanOrEqual(1800);
    expect(afterWrite).toBeLessThanOrEqual(4500);
  });

  testIf(emulated('TCP_INFO'), '2. TCP_INFO tells the truth: retransmits and totalRetrans rise while the peer is silent', () => {
    for (const name of ['user-timeout', 'defaults-writing']) {
      const samples = result(name).samples;
      const last = samples[samples.length - 1];
      console.log(`${name}: tcpi_retransmits ${[...new Set(samples.map((s) => s.retransmits))].join(' -> ')}, tcpi_total_retrans up to ${last.totalRetrans}`);
      expect(last.retransmits).toBeGreaterThanOrEqual(1);
      expect(last.totalRetrans).toBeGreaterThanOrEqual(1);
      expect(samples[0].totalRetrans).toBeLessThanOrEqual(last.totalRetrans);
    }
  });

  test('2. without it the writer is still retrying at the end of the window', () => {
    expect(ready('defaults-writing').readBack.userTimeout).toBe(0);
    expect(result('defaults-writing')).toMatchObject({ alive: true, error: null });
  });

  const captureTest = (name, fn) => testIf(noTcpdump, name, fn);

  captureTest('5. tcpdump on the client side sees exactly `count` keepalive probes one interval apart, then the reset', () => {
    const sent = sentAfterCut('keepalive');
    const probes = sent.filter((p) => p.flags === '.' && p.length <= 1);
    const resets = sent.filter((p) => p.flags.includes('R'));
    expect(probes).toHaveLength(2);
    const gap = probes[1].at - probes[0].at;
    expect(gap).toBeGreaterThanOrEqual(700);
    expect(gap).toBeLessThanOrEqual(1500);
    expect(probes[0].at - result('keepalive').lastDataAt).toBeGreaterThanOrEqual(700);
    expect(resets).toHaveLength(1);
    expect(resets[0].at).toBeGreaterThan(probes[1].at);
  });

  captureTest('5. with the defaults nothing at all is sent on the idle connection; the writer retransmits and never resets', () => {
    expect(sentAfterCut('defaults-idle')).toEqual([]);
    const writer = sentAfterCut('defaults-writing');
    expect(writer.filter((p) => p.length === 1000).length).toBeGreaterThanOrEqual(3);
    expect(writer.filter((p) => p.flags.includes('R'))).toEqual([]);
  });
});

describeNetns('address and port reuse between two hosts', () => {
  let pair;
  beforeEach(() => {
    pair = new HostPair().create();
  });
  afterEach(() => pair.destroy());

  function connectClient(port, count, parallel) {
    return messages(
      pair.node(pair.client, path.join(__dirname, '..', 'fixtures', 'netns', 'connect-client.js'), [
        pair.server.ip,
        String(port),
        String(count),
        String(parallel),
      ]),
    );
  }

  // Linux lets a new socket bind over TIME_WAIT only when both have SO_REUSEADDR: the new one, and
  // the old connection (which inherits it from the listener that accepted it). Node's servers
  // always set it, so a restarted Node server binds at once; a listener without it blocks the port.
  test.each([
    ['with SO_REUSEADDR (like every Node server)', true, { withoutReuseAddress: 'EADDRINUSE', withReuseAddress: 'bound' }],
    ['without SO_REUSEADDR', false, { withoutReuseAddress: 'EADDRINUSE', withReuseAddress: 'EADDRINUSE' }],
  ])(
    '3. the old listener %s left a connection in TIME_WAIT: binding the port again without / with SO_REUSEADDR',
    async (_, oldReuse, expected) => {
      const server = messages(
        pair.node(pair.server, path.join(__dirname, '..', 'fixtures', 'netns', 'reuse-server.js'), ['timewait', pair.server.ip, String(oldReuse)]),
      );
      const { ready: port, reuseAddress } = await server.next((m) => m.ready);
      expect(reuseAddress).toBe(oldReuse);
      await connectClient(port, 1, 1).next((m) => m.tally, 10000);
      const verdict = await server.next((m) => 'timeWait' in m, 10000);
      expect(verdict).toEqual({ timeWait: 1, ...expected });
    },
    30000,
  );

  test('4. SO_REUSEPORT: two listeners on one port both receive a share of 200 connections', async () => {
    const server = messages(pair.node(pair.server, path.join(__dirname, '..', 'fixtures', 'netns', 'reuse-server.js'), ['reuseport', pair.server.ip]));
    const { ready: port, reusePort } = await server.next((m) => m.ready);
    expect(reusePort).toEqual([true, true]);
    const { tally } = await connectClient(port, 200, 10).next((m) => m.tally, 30000);
    console.log(`SO_REUSEPORT: listener 0 served ${tally['0']}, listener 1 served ${tally['1']} of 200`);
    expect(Object.keys(tally).sort()).toEqual(['0', '1']);
    expect(tally['0'] + tally['1']).toBe(200);
    // The kernel hashes each connection's addresses and ports: an even split is expected, a share
    // under 20 of 200 would be a one-in-10^20 event.
    expect(Math.min(tally['0'], tally['1'])).toBeGreaterThanOrEqual(20);
  }, 40000);
});

describeNetns('observe() against the kernel', () => {
  const PROOF = path.join(__dirname, '..', 'fixtures', 'netns', 'observe-proof.js');

  testIf(
    emulated('TCP_INFO'),
    'with one in ten data packets dropped on the way, packets_retransmitted (prom-client) matches the namespace’s TcpRetransSegs within 5 %',
    async () => {
      const pair = new HostPair().create();
      try {
        const sink = messages(pair.node(pair.server, PROOF, ['sink', pair.server.ip]));
        const { ready: port } = await sink.next((m) => m.ready);
        pair.lose(pair.server, 10);
        const result = await messages(pair.node(pair.client, PROOF, ['retrans', pair.server.ip, String(port)])).next((m) => 'kernel' in m || m.error, 60000);
        console.log(`retransmissions: kernel TcpRetransSegs +${result.kernel}, observed network_tcp_packets_retransmitted_total ${result.observed}`);
        expect(result.error).toBeUndefined();
        expect(result.kernel).toBeGreaterThanOrEqual(10);
        expect(Math.abs(result.observed - result.kernel)).toBeLessThanOrEqual(Math.ceil(result.kernel * 0.05));
      } finally {
        pair.destroy();
      }
    },
    90000,
  );

  testIf(
    firstReason(noCommand('tc', ['-V'], 'iproute2'), emulated('TCP_INFO')),
    'on a loopback shaped with tbf, the smoothed RTT rises from microseconds to hundreds of ms under a bulk write; minRtt does not',
    () => {
      const script = [
        'ip link set lo mtu 1500 up',
        'tc qdisc add dev lo root tbf rate 8mbit burst 16kb latency 500ms',
        `exec "${process.execPath}" "${PROOF}" rtt`,
      ].join(' && ');
      const run = require('node:child_process').spawnSync('unshare', ['-n', 'sh', '-c', script], { encoding: 'utf8', timeout: 60000 });
      expect(run.stderr).toBe('');
      const result = JSON.parse(run.stdout.trim().split('\n').pop());
      console.log(
        `tbf 8 Mbit/s: rtt ${result.idleRtt} µs idle, up to ${result.maxRtt} µs under the write (${result.samples} samples); minRtt up to ${result.maxMinRtt} µs`,
      );
      expect(result.idleRtt).toBeLessThan(10000);
      expect(result.maxRtt).toBeGreaterThan(100000);
      expect(result.maxMinRtt).toBeLessThan(10000);
    },
    90000,
  );
});

describeNetns('dial(): options set before connect, proved between two hosts', () => {
  const PROOF = path.join(__dirname, '..', 'fixtures', 'netns', 'dial-proof.js');
  let pair;
  beforeEach(() => {
    pair = new HostPair().create();
  });
  afterEach(() => pair.destroy());

  async function serve(...flags) {
    const server = messages(pair.node(pair.server, PROOF, ['server', pair.server.ip, ...flags]));
    return (await server.next((m) => m.ready || m.error)).ready;
  }
  const client = (mode, port) => messages(pair.node(pair.client, PROOF, [mode, pair.server.ip, String(port)])).next(() => true, 60000);

  const capture = (port, run) => pair.capture(pair.client, port, run);

  testIf(
    noTcpdump,
    'synRetries: 1 to a silent path fails in about 3 s and its SYNs stop; the default dial is still sending SYNs after',
    async () => {
      const port = await serve();
      pair.silence(pair.server);
      const { result, text } = await capture(port, () => client('syn', port));
      // SYNs per source port, in order of first sight: the tuned dial starts first.
      const perPort = new Map();
      for (const { sourcePort } of HostPair.syns(text)) perPort.set(sourcePort, (perPort.get(sourcePort) ?? 0) + 1);
      const [tunedSyns, defaultSyns] = [...perPort.values()];
      console.log(
        `synRetries 1: ${result.error} after ${result.failedAfter} ms, ${tunedSyns} SYNs; ` +
          `the default dial: ${result.defaultState} after ${result.defaultAfter} ms, ${defaultSyns} SYNs so far`,
      );
      expect(result.error).toBe('ETIMEDOUT');
      expect(result.failedAfter).toBeGreaterThan(2000);
      expect(result.failedAfter).toBeLessThan(5000);
      expect(result.defaultState).toBe('pending');
      expect(perPort.size).toBe(2);
      // The kernel's count depends on its SYN timer (linear for the first tries since 6.x); the
      // proof is that the tuned dial stopped while the default one kept going.
      expect(tunedSyns).toBeGreaterThanOrEqual(2);
      expect(defaultSyns).toBeGreaterThan(tunedSyns);
    },
    60000,
  );

  testIf(
    firstReason(noTcpdump, emulated('TCP_INFO')),
    'a receive buffer set before connect lowers the window scale the SYN carries',
    async () => {
      const port = await serve();
      const { result, text } = await capture(port, () => client('wscale', port));
      const scales = HostPair.syns(text).map((syn) => syn.wscale);
      console.log(`window scale: ${result.small} with a 4096-byte receive buffer, ${result.plain} by default; the SYNs said ${scales.join(', ')}`);
      expect(result.small).toBe(0);
      expect(result.plain).toBeGreaterThan(result.small);
      expect(scales).toEqual([result.small, result.plain]);
    },
    60000,
  );

  testIf(
    firstReason(noTcpdump, emulated('TCP_INFO')),
    'Fast Open: the first write of a repeat connection rides in the SYN (tcpdump, tcpi_options)',
    async () => {
      for (const host of [pair.server, pair.client]) pair.sysctl(host, 'net.ipv4.tcp_fastopen', 3);
      const port = await serve('fastopen');
      const { result, text } = await capture(port, () => client('fastopen', port));
      const synLengths = HostPair.syns(text).map((syn) => syn.length);
      console.log(`Fast Open: SYN data ${result.connections.map((c) => c.synData).join(', ')}; SYN payload lengths ${synLengths.join(', ')}`);
      expect(result.connections.map((c) => c.synData)).toEqual([false, true]); // the first only fetches the cookie
      expect(synLengths).toEqual([0, 5]);
    },
    60000,
  );

  test('Fast Open with a cookie cached: dial() resolves before any SYN, and a stopped server’s refusal comes with the first write', async () => {
    for (const host of [pair.server, pair.client]) pair.sysctl(host, 'net.ipv4.tcp_fastopen', 3);
    const serverProcess = pair.node(pair.server, PROOF, ['server', pair.server.ip, 'fastopen']);
    const port = (await messages(serverProcess).next((m) => m.ready || m.error)).ready;
    const clientProcess = pair.node(pair.client, PROOF, ['fastopen-refused', pair.server.ip, String(port)]);
    const client = messages(clientProcess);
    await client.next((m) => m.cookie);
    serverProcess.kill('SIGKILL');
    await new Promise((resolve) => serverProcess.once('exit', resolve));
    clientProcess.stdin.write('go\n');
    const result = await client.next((m) => 'dialed' in m, 30000);
    console.log(
      `Fast Open to a stopped server, cookie cached: dial ${result.dialed ? 'resolved' : `rejected (${result.code})`}; the first write: ${result.writeError}`,
    );
    expect(result).toEqual({ dialed: true, writeError: 'ECONNREFUSED' });
  }, 60000);

  const mptcpReason = (() => {
    try {
      return require('node:fs').readFileSync('/proc/sys/net/mptcp/enabled', 'utf8').trim() === '1' ? null : 'net.mptcp.enabled is 0';
    } catch {
      return 'this kernel has no MPTCP';
    }
  })();
  testIf(
    mptcpReason,
    'MPTCP on both ends: TCP_IS_MPTCP reads 1 on the client and on the server',
    async () => {
      const port = await serve('mptcp');
      const result = await client('mptcp', port);
      expect(result).toEqual({ local: 1, peer: 1 });
    },
    60000,
  );

  test('MPTCP disabled in the namespace (net.mptcp.enabled=0): a typed error that says so', async () => {
    pair.sysctl(pair.client, 'net.mptcp.enabled', 0);
    const port = await serve();
    const result = await client('mptcp', port);
    expect(result.error).toMatch(/Multipath TCP is not available here/);
  }, 60000);
});
