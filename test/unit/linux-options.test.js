'use strict';
// The Linux server's knobs, measured on the running kernel: for every row that says whether an
// accepted socket inherits it, that claim (set on a listener before bind, accept, read back);
// the options that only take a value in one socket state, set in that state; privileges; the
// congestion-control helpers; and the TCP_INFO decoder against the installed C header.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const knobs = require('../..');
const { openSocket, bindSocket, listenSocket, closeSocket } = require('../../dist/modules/core/syscall.js');
const { decodeTcpInfo } = require('../../dist/modules/options/tcpinfo.js');
const { TCP_INFO_MEMBERS, cName } = require('../../dist/modules/options/tcpinfo-layout.js');
const {
  closeAll,
  track,
  tcpPair,
  thrown,
  toolEnv,
  EMULATED,
  emulated,
  firstReason,
  notRoot,
  noCommand,
  testIf,
  eachIf,
  describeIf,
  waitFor,
  unreachableByNobody,
} = require('../helpers');

afterEach(closeAll);

const LINUX = process.platform === 'linux';
const ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
const describeLinux = (name, fn) => describeIf(LINUX ? null : 'Linux options, on Linux only', name, fn);

/** The available congestion-control algorithm that is not the default, or null. */
function otherAlgorithm() {
  try {
    const available = fs.readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').trim().split(/\s+/);
    const current = fs.readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim();
    return available.find((name) => name !== current) ?? null;
  } catch {
    return null;
  }
}

// For each row: a value that differs from the default and that the kernel stores as given.
const SAMPLES = {
  SO_REUSEADDR: 1,
  SO_REUSEPORT: 1,
  SO_KEEPALIVE: 1,
  SO_RCVBUF: 100000,
  SO_SNDBUF: 100000,
  TCP_NODELAY: 1,
  TCP_KEEPIDLE: 61,
  TCP_KEEPINTVL: 11,
  TCP_KEEPCNT: 4,
  TCP_USER_TIMEOUT: 45000,
  IP_TOS: 0x20,
  IP_TTL: 10,
  IPV6_V6ONLY: 1,
  IPV6_UNICAST_HOPS: 10,
  TCP_NOTSENT_LOWAT: 16384,
  TCP_DEFER_ACCEPT: 3,
  TCP_FASTOPEN: 16,
  TCP_FASTOPEN_CONNECT: 1,
  TCP_QUICKACK: 0,
  TCP_MAXSEG: 1000,
  TCP_SYNCNT: 3,
  TCP_WINDOW_CLAMP: 20000,
  TCP_LINGER2: 30,
  TCP_CORK: 1,
  SO_MARK: 42,
  SO_PRIORITY: 5,
  SO_INCOMING_CPU: 1000,
  SO_BUSY_POLL: 10,
  SO_RCVLOWAT: 100,
  IP_FREEBIND: 1,
  IP_TRANSPARENT: 1,
  IP_BIND_ADDRESS_NO_PORT: 1,
  IP_MTU_DISCOVER: 3,
  IPV6_TCLASS: 0x20,
  SO_BINDTODEVICE: 'lo',
  TCP_CONGESTION: otherAlgorithm(),
  SO_LINGER: Buffer.from(new Int32Array([1, 7]).buffer),
};
const DOUBLED = new Set(['SO_RCVBUF', 'SO_SNDBUF']);

function read(target, row) {
  if (row.kind === 'string') return knobs.getsockopt(target, row.level, row.name, 16).toString('latin1').replace(/\0.*$/s, '');
  if (row.kind === 'linger') return knobs.getsockopt(target, row.level, row.name, 8).toString('hex');
  return knobs.getsockopt(target, row.level, row.name);
}
function write(target, row, value) {
  knobs.setsockopt(target, row.level, row.name, typeof value === 'string' ? Buffer.from(`${value}\0`, 'latin1') : value);
}
function stored(row, value) {
  if (row.kind === 'linger') return value.toString('hex');
  return DOUBLED.has(row.name) ? value * 2 : value;
}

/**
 * A listening socket made by hand so that `row` can be set before bind (where every row may be
 * set), served by a net.Server; then one connection, and the accepted socket.
 */
async function acceptedFrom(row, value, apply = true) {
  const ipv6 = row.level === 'IPPROTO_IPV6';
  const fd = openSocket(knobs.constants[ipv6 ? 'AF_INET6' : 'AF_INET'], knobs.constants.SOCK_STREAM);
  expect(fd).toBeGreaterThan(2);
  const server = track(net.createServer());
  let listenerValue;
  try {
    if (apply) {
      write(fd, row, value);
      listenerValue = read(fd, row);
    }
    // IPv6 binds '::': a socket bound to one IPv6 address (::1) is made IPv6-only by the kernel,
    // which would hide whether IPV6_V6ONLY is inherited. Only the test connects to it.
    bindSocket(fd, knobs.constants[ipv6 ? 'AF_INET6' : 'AF_INET'], ipv6 ? '::' : '127.0.0.1', 0, 0, 'test');
    listenSocket(fd, 16, 'test', 0);
  } catch (err) {
    closeSocket(fd);
    throw err;
  }
  await new Promise((resolve) => server.listen(new net.Socket({ fd, readable: false, writable: false }), resolve));
  const acceptedP = new Promise((resolve) => server.once('connection', (s) => resolve(track(s))));
  const client = track(net.connect(server.address().port, ipv6 ? '::1' : '127.0.0.1'));
  await new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject));
  return { listenerValue, accepted: await acceptedP };
}

describeLinux("accepted sockets: inherited or not, as each row's Linux entry says", () => {
  const rows = knobs.OPTIONS.filter((row) => row.inherited !== undefined && knobs.isSupported(row.name));

  const reasonFor = (name, claim, row) =>
    firstReason(
      emulated(name),
      SAMPLES[name] === null ? 'only one congestion-control algorithm is available here' : null,
      row.privilege && /CAP_/.test(row.privilege) && name !== 'TCP_CONGESTION' ? notRoot(row.privilege) : null,
    );
  eachIf(
    rows.map((row) => [row.name, row.inherited.linux ? 'inherits' : 'does not inherit', row]),
    reasonFor,
    '%s: an accepted socket %s it',
    async (name, claim, row) => {
      const value = SAMPLES[name];
      expect(value).toBeDefined();
      const baseline = read((await acceptedFrom(row, value, false)).accepted, row);
      const { listenerValue, accepted } = await acceptedFrom(row, value);
      // The listener took the value as given (the round trip, in the state where it may be set).
      expect(listenerValue).toEqual(stored(row, value));
      const onAccepted = read(accepted, row);
      if (name === 'TCP_MAXSEG') {
        // Inherited as the effective MSS: the value less the 12-byte timestamp option.
        expect(onAccepted).toBe(value - 12);
        expect(row.inherited.linux).toBe(true);
        return;
      }
      const inherited = onAccepted === stored(row, value) && onAccepted !== baseline;
      expect({ name, inherited }).toEqual({ name, inherited: row.inherited.linux });
    },
  );
});

describeLinux('options that take a value only in one socket state', () => {
  test('TCP_FASTOPEN: on a listener yes, on an established socket EINVAL', async () => {
    const server = await knobs.listen(track(net.createServer()), { port: 0, host: '127.0.0.1', fastOpen: 32 });
    expect(knobs.getsockopt(server, 'IPPROTO_TCP', 'TCP_FASTOPEN')).toBe(32);
    const { client } = await tcpPair();
    expect(thrown(() => knobs.setsockopt(client, 'IPPROTO_TCP', 'TCP_FASTOPEN', 5)).code).toBe('EINVAL');
  });

  test('TCP_FASTOPEN_CONNECT: before connect yes (or EOPNOTSUPP when the sysctl lacks bit 1), on an established socket EINVAL', async () => {
    const fd = openSocket(knobs.constants.AF_INET, knobs.constants.SOCK_STREAM);
    try {
      const sysctl = Number(fs.readFileSync('/proc/sys/net/ipv4/tcp_fastopen', 'utf8'));
      if (sysctl & 1) {
        knobs.setsockopt(fd, 'IPPROTO_TCP', 'TCP_FASTOPEN_CONNECT', 1);
        expect(knobs.getsockopt(fd, 'IPPROTO_TCP', 'TCP_FASTOPEN_CONNECT')).toBe(1);
      } else {
        expect(thrown(() => knobs.setsockopt(fd, 'IPPROTO_TCP', 'TCP_FASTOPEN_CONNECT', 1)).code).toBe('EOPNOTSUPP');
      }
    } finally {
      closeSocket(fd);
    }
    const { client } = await tcpPair();
    expect(thrown(() => knobs.setsockopt(client, 'IPPROTO_TCP', 'TCP_FASTOPEN_CONNECT', 1)).code).toBe('EINVAL');
  });

  test('TCP_DEFER_ACCEPT reads back rounded up to a retransmission boundary; listen({ deferAccept }) sets it', async () => {
    const server = await knobs.listen(track(net.createServer()), { port: 0, host: '127.0.0.1', deferAccept: 5 });
    expect(knobs.getsockopt(server, 'IPPROTO_TCP', 'TCP_DEFER_ACCEPT')).toBe(7);
  });

  test('listen({ freebind }) binds an address this host does not have; without it EADDRNOTAVAIL', async () => {
    await expect(knobs.listen(track(net.createServer()), { port: 0, host: '192.0.2.1' })).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
    const server = await knobs.listen(track(net.createServer()), { port: 0, host: '192.0.2.1', freebind: true });
    expect(server.address().address).toBe('192.0.2.1'); // bound only: nothing is ever sent to it
    expect(knobs.getsockopt(server, 'IPPROTO_IP', 'IP_FREEBIND')).toBe(1);
  });

  testIf(emulated('SO_BINDTODEVICE'), "listen({ bindToDevice: 'lo' }) binds the listener to the interface; an unknown one is ENODEV", async () => {
    const server = await knobs.listen(track(net.createServer()), { port: 0, host: '127.0.0.1', bindToDevice: 'lo' });
    expect(knobs.getsockopt(server, 'SOL_SOCKET', 'SO_BINDTODEVICE', 16).toString().replace(/\0.*$/s, '')).toBe('lo');
    const before = fs.readdirSync('/proc/self/fd').length;
    expect(thrown(() => knobs.createListeningSocket({ port: 0, host: '127.0.0.1', bindToDevice: 'nosuchdev0' }))).toMatchObject({
      code: 'ENODEV',
      option: 'SO_BINDTODEVICE',
    });
    expect(fs.readdirSync('/proc/self/fd').length).toBe(before);
    expect(thrown(() => knobs.createListeningSocket({ port: 0, bindToDevice: 'x'.repeat(16) })).code).toBe('ERR_INVALID_ARG_VALUE');
  });
});

describeLinux('privileges', () => {
  const reason = firstReason(
    notRoot('a process without capabilities is started with setpriv'),
    noCommand('setpriv'),
    emulated('SO_MARK', 'IP_TRANSPARENT', 'SO_BINDTODEVICE'),
    unreachableByNobody(),
  );
  testIf(
    reason,
    'without capabilities: SO_MARK, SO_PRIORITY > 6, IP_TRANSPARENT, a non-allowed congestion control and a rebinding of SO_BINDTODEVICE are EPERM, each saying what it needs',
    () => {
      const script = `
      const knobs = require(${JSON.stringify(path.join(__dirname, '..', '..'))});
      const net = require('net');
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const out = {};
        for (const [name, call] of [['mark', () => knobs.tune(server, { mark: 42 })], ['priority', () => knobs.tune(server._handle.fd, { priority: 7 })], ['raw', () => knobs.setsockopt(server, 'SOL_SOCKET', 'SO_MARK', 1)]]) {
          try { call(); out[name] = 'no error'; } catch (e) { out[name] = { name: e.name, code: e.code, errno: e.errno, message: e.message }; }
        }
        out.priorityLow = (knobs.tune(server._handle.fd, { priority: 6 }), knobs.getTuning(server).priority);
        // Congestion control: only the allowed algorithms without CAP_NET_ADMIN.
        const allowed = require('fs').readFileSync('/proc/sys/net/ipv4/tcp_allowed_congestion_control', 'utf8').trim().split(/\\s+/);
        const available = require('fs').readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').trim().split(/\\s+/);
        const notAllowed = available.find((a) => !allowed.includes(a));
        if (notAllowed) { try { knobs.setCongestionControl(server, notAllowed); out.congestion = 'no error'; } catch (e) { out.congestion = { code: e.code, message: e.message }; } }
        knobs.setCongestionControl(server, allowed[0]);
        out.congestionAllowed = knobs.getCongestionControl(server);
        for (const [name, call] of [['transparent', () => knobs.setsockopt(server, 'IPPROTO_IP', 'IP_TRANSPARENT', 1)], ['transparentOff', () => knobs.setsockopt(server, 'IPPROTO_IP', 'IP_TRANSPARENT', 0)]]) {
          try { call(); out[name] = 'no error'; } catch (e) { out[name] = { code: e.code, message: e.message }; }
        }
        // SO_BINDTODEVICE: the first binding needs nothing, changing it needs CAP_NET_RAW.
        const fresh = knobs.createListeningSocket({ port: 0, host: '127.0.0.1', bindToDevice: 'lo' });
        try { knobs.setsockopt(fresh, 'SOL_SOCKET', 'SO_BINDTODEVICE', Buffer.alloc(0)); out.unbind = 'no error'; } catch (e) { out.unbind = { code: e.code, message: e.message }; }
        require('fs').closeSync(fresh);
        console.log(JSON.stringify(out));
        server.close();
      });
    `;
      const run = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, '-e', script],
        { encoding: 'utf8', timeout: 30000 },
      );
      expect(run.stderr).toBe('');
      const out = JSON.parse(run.stdout);
      expect(out.mark).toMatchObject({ name: 'SyscallError', code: 'EPERM', errno: -1 });
      expect(out.mark.message).toMatch(/SO_MARK needs CAP_NET_ADMIN or CAP_NET_RAW/);
      expect(out.raw.message).toMatch(/needs CAP_NET_ADMIN or CAP_NET_RAW/);
      expect(out.priority.message).toMatch(/SO_PRIORITY needs none for 0\.\.6; CAP_NET_ADMIN or CAP_NET_RAW for other values/);
      expect(out.priorityLow).toBe(6);
      if (out.congestion) {
        expect(out.congestion.code).toBe('EPERM');
        expect(out.congestion.message).toMatch(
          /TCP_CONGESTION needs none for the names in net\.ipv4\.tcp_allowed_congestion_control; CAP_NET_ADMIN for the others/,
        );
      }
      expect(typeof out.congestionAllowed).toBe('string');
      expect(out.transparent).toMatchObject({ code: 'EPERM' });
      expect(out.transparent.message).toMatch(/IP_TRANSPARENT needs CAP_NET_ADMIN or CAP_NET_RAW to turn it on/);
      expect(out.transparentOff).toBe('no error');
      expect(out.unbind).toMatchObject({ code: 'EPERM' });
      expect(out.unbind.message).toMatch(/SO_BINDTODEVICE needs none for the first binding; CAP_NET_RAW to change or remove it/);
    },
  );
});

describeLinux('congestion control', () => {
  test('setCongestionControl / getCongestionControl round trip; an unknown name is ENOENT with where to look', async () => {
    const { client } = await tcpPair();
    const current = knobs.getCongestionControl(client);
    expect(current).toBe(fs.readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim());
    const other = otherAlgorithm();
    if (other) {
      knobs.setCongestionControl(client, other);
      expect(knobs.getCongestionControl(client)).toBe(other);
      knobs.tune(client, { congestionControl: current });
      expect(knobs.getTuning(client).congestionControl).toBe(current);
    }
    const err = thrown(() => knobs.setCongestionControl(client, 'nosuchalgo'));
    expect(err).toMatchObject({ name: 'SyscallError', code: 'ENOENT', option: 'TCP_CONGESTION' });
    expect(err.message).toMatch(/tcp_available_congestion_control/);
    for (const bad of ['', 'x'.repeat(16), 'bb r', 'bbr\0']) expect(thrown(() => knobs.setCongestionControl(client, bad)).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => knobs.setCongestionControl(client, 5)).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  test('Tuning fields notSentLowWatermark, mark, priority read back; priority is set per connection (not inherited)', async () => {
    const { client } = await tcpPair();
    const tuning = { notSentLowWatermark: 16384, priority: 5, ...(ROOT && !EMULATED ? { mark: 42 } : {}) };
    knobs.tune(client, tuning);
    expect(knobs.getTuning(client)).toMatchObject(tuning);
  });
});

describeLinux('TCP_INFO', () => {
  const header = '/usr/include/linux/tcp.h';
  testIf(
    firstReason(fs.existsSync(header) ? null : `no ${header} (apt-get install linux-libc-dev)`, noCommand('cc')),
    'every field offset the installed <linux/tcp.h> knows matches the decoder, bitfields included',
    () => {
      const text = fs.readFileSync(header, 'utf8');
      // Plain members by offsetof; the bitfields (bytes 6-7, and the word at 276) by setting them below.
      const plain = TCP_INFO_MEMBERS.filter((m) => m.length === 3).map(([name]) => [name, cName(name)]);
      const known = plain.filter(([, c]) => new RegExp(`\\b${c}\\b`).test(text));
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socket-knobs-tcpinfo-'));
      try {
        const source = [
          '#include <stddef.h>',
          '#include <stdio.h>',
          '#include <string.h>',
          '#include <linux/tcp.h>',
          'int main(void) {',
          '  struct tcp_info t;',
          `  printf("sizeof %zu\\n", sizeof t);`,
          ...known.map(([js, c]) => `  printf("${js} %zu %zu\\n", offsetof(struct tcp_info, ${c}), sizeof t.${c});`),
          '  memset(&t, 0, sizeof t); t.tcpi_snd_wscale = 5; t.tcpi_rcv_wscale = 9; t.tcpi_delivery_rate_app_limited = 1; t.tcpi_fastopen_client_fail = 2;',
          '  const unsigned char *b = (const unsigned char *)&t; printf("bits %u %u\\n", b[6], b[7]);',
          '  return 0;',
          '}',
        ].join('\n');
        fs.writeFileSync(path.join(dir, 't.c'), source);
        execFileSync('cc', ['-o', path.join(dir, 't'), path.join(dir, 't.c')], { env: toolEnv() });
        const lines = execFileSync(path.join(dir, 't'), { encoding: 'utf8', env: toolEnv() })
          .trim()
          .split('\n')
          .map((l) => l.split(' '));
        const size = Number(lines.find(([k]) => k === 'sizeof')[1]);
        const widths = { u8: 1, u16: 2, u32: 4, u64: 8, rate: 8, state: 1, caState: 1, options: 1 };
        const offsets = Object.fromEntries(TCP_INFO_MEMBERS.map(([name, offset, kind]) => [name, [offset, widths[kind]]]));
        let checked = 0;
        for (const [name, offset, width] of lines.filter(([k]) => k !== 'sizeof' && k !== 'bits')) {
          expect({ name, at: offsets[name] }).toEqual({ name, at: [Number(offset), Number(width)] });
          checked++;
        }
        console.log(`TCP_INFO: ${checked} field offsets checked against <linux/tcp.h> (sizeof ${size})`);
        expect(checked).toBeGreaterThanOrEqual(40);
        const [, b6, b7] = lines.find(([k]) => k === 'bits');
        const bytes = new Uint8Array(8);
        bytes[0] = 1;
        bytes[6] = Number(b6);
        bytes[7] = Number(b7);
        expect(decodeTcpInfo(bytes, 8)).toMatchObject({ sndWscale: 5, rcvWscale: 9, deliveryRateAppLimited: true, fastopenClientFail: 2 });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  testIf(emulated('TCP_INFO'), 'a field exists only where the kernel returned it: an older, shorter struct gives fewer fields, never zeros', async () => {
    const { client } = await tcpPair();
    const full = knobs.getTcpInfo(client);
    expect(full.length).toBeGreaterThanOrEqual(104);
    expect(full.state).toBe('ESTABLISHED');
    const raw = knobs.getsockopt(client, 'IPPROTO_TCP', 'TCP_INFO', 512);
    expect(raw.length).toBe(full.length);
    const glibcSized = decodeTcpInfo(raw, 104); // glibc's struct ends at tcpi_total_retrans
    expect(glibcSized.totalRetrans).toBeDefined();
    expect('pacingRate' in glibcSized).toBe(false);
    expect('bytesAcked' in glibcSized).toBe(false);
    expect(Object.keys(decodeTcpInfo(raw, 8)).sort()).toEqual(
      [
        'backoff',
        'caState',
        'deliveryRateAppLimited',
        'fastopenClientFail',
        'length',
        'options',
        'probes',
        'rcvWscale',
        'retransmits',
        'sndWscale',
        'state',
      ].sort(),
    );
  });

  testIf(emulated('TCP_INFO'), 'a healthy connection: bytesAcked covers what was written, rtt is positive; a listener reports its queue', async () => {
    const { client, accepted, server } = await tcpPair();
    const payload = Buffer.alloc(200000, 7);
    let received = 0;
    const all = new Promise((resolve) => accepted.on('data', (d) => (received += d.length) >= payload.length && resolve()));
    client.write(payload);
    await all;
    // The last ACKs reach the client a moment after the data reached the server.
    const info = await waitFor(
      () => {
        const now = knobs.getTcpInfo(client);
        return now.bytesAcked >= payload.length && now;
      },
      { what: 'every byte acknowledged' },
    );
    expect(info.bytesAcked).toBeGreaterThanOrEqual(payload.length);
    expect(info.bytesSent).toBeGreaterThanOrEqual(payload.length);
    expect(info.rtt).toBeGreaterThan(0);
    expect(knobs.getTcpInfo(accepted).bytesReceived).toBeGreaterThanOrEqual(payload.length);
    const listener = knobs.getTcpInfo(server);
    expect(listener.state).toBe('LISTEN');
    expect(listener.sacked).toBe(511); // the backlog limit
  });

  testIf(emulated('TCP_INFO'), 'a result object to refill: the same object back, the values of a fresh read, nothing left from a longer read', async () => {
    const { client, accepted } = await tcpPair();
    const result = {};
    expect(knobs.getTcpInfo(client, result)).toBe(result);
    client.write(Buffer.alloc(100000));
    await waitFor(() => knobs.getTcpInfo(client, result).bytesAcked >= 100000, { what: 'the bytes acknowledged' });
    const fresh = knobs.getTcpInfo(client);
    // Every member a fresh read has, with its value (the counters cannot have moved: the connection is idle).
    expect({ ...knobs.getTcpInfo(client, result), lastDataSent: 0, lastAckRecv: 0, lastDataRecv: 0 }).toEqual({
      ...fresh,
      lastDataSent: 0,
      lastAckRecv: 0,
      lastDataRecv: 0,
    });
    expect(result.options).toEqual(fresh.options);
    // Refilled from a shorter struct: the members past its end are undefined, not the previous values.
    const raw = knobs.getsockopt(client, 'IPPROTO_TCP', 'TCP_INFO', 512);
    decodeTcpInfo(raw, 104, result);
    expect(result.length).toBe(104);
    expect(result.totalRetrans).toBeDefined();
    expect(result.bytesAcked).toBeUndefined();
    expect(result.bytesSent).toBeUndefined();
    for (const bad of [null, 1, 'x', true]) {
      const err = thrown(() => knobs.getTcpInfo(accepted, bad));
      expect({ code: err.code, name: err.name }).toEqual({ code: 'ERR_INVALID_ARG_TYPE', name: 'InvalidArgumentError' });
    }
  });

  test('on a UDP socket or a destroyed one: typed errors', async () => {
    const { client } = await tcpPair();
    client.destroy();
    expect(thrown(() => knobs.getTcpInfo(client)).code).toBe('ERR_SOCKET_CLOSED');
    const udp = await require('../helpers').udpSocket();
    expect(thrown(() => knobs.getTcpInfo(udp))).toBeInstanceOf(knobs.SyscallError);
  });
});
