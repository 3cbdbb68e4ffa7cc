'use strict';
// Every option in the table, on real loopback sockets: read the kernel's value, pick one that
// differs, set it, read it back with getsockopt (socket2's round-trip test, over IPv4 and IPv6).
const knobs = require('../..');
const { tcpPair, udpSocket, closeAll, listen, selfSignedCert, noIPv6, noOpenssl, notRoot, emulated, firstReason, eachIf, testIf } = require('../helpers');

afterEach(closeAll);

const LINUX = process.platform === 'linux';

// Values the kernel stores as given. IP_TOS: on TCP sockets Linux keeps the two ECN bits to itself,
// so the sample is a DSCP value (CS1, CS2).
const SAMPLES = { IP_TOS: [0x20, 0x40], IPV6_TCLASS: [0x20, 0x40] };

// Options that only take a value in a socket state this loop does not have (before connect, on a
// listener): test/unit/linux-options.test.js sets them where they apply.
const ELSEWHERE = new Set(['TCP_FASTOPEN', 'TCP_FASTOPEN_CONNECT', 'TCP_MAXSEG']);

/** A value for `row` that differs from `current` and that the kernel reports back unchanged (but for Linux's buffer doubling). */
function nextValue(row, current) {
  if (SAMPLES[row.name]) return SAMPLES[row.name].find((v) => v !== current);
  if (row.kind === 'bool') return current ? 0 : 1;
  if (row.unit === 'bytes') return current === 100000 ? 120000 : 100000;
  const max = (row.maxOn && row.maxOn[process.platform]) || row.max;
  return current < max ? current + 1 : current - 1;
}

/** What getsockopt reports after setting `value`. */
function expectedReadBack(row, value) {
  return (row.reportedDoubledOn || []).includes(process.platform) ? value * 2 : value; // the table's column, checked here
}

async function socketsFor(row, family) {
  const host = family === 6 ? '::1' : '127.0.0.1';
  if (row.sockets === 'udp') return [await udpSocket(family === 6 ? 'udp6' : 'udp4')];
  const { server, client, accepted } = await tcpPair(host);
  if (row.sockets === 'any') return [client, accepted, server, await udpSocket(family === 6 ? 'udp6' : 'udp4')];
  return [client, accepted];
}

const rows = knobs.OPTIONS.filter((row) => (row.kind === 'int' || row.kind === 'bool') && !row.readOnly && !ELSEWHERE.has(row.name));

/** Why `row` cannot be round-tripped over IPv`family` here, or null. */
function reasonFor(row, family) {
  return firstReason(
    knobs.isSupported(row.name) ? null : 'not defined by this platform',
    family === 6 ? noIPv6() : null,
    emulated(row.name),
    row.privilege ? notRoot(`it needs ${row.privilege}`) : null,
  );
}

describe.each([4, 6])('round trip over IPv%i', (family) => {
  // An IPv6-only option is tested in the IPv6 round, an IPv4 one in the IPv4 round.
  const here = rows.filter((row) => (family === 4 ? row.sockets !== 'ipv6' : row.level !== 'IPPROTO_IP'));
  eachIf(
    here.map((row) => [row.name, row]),
    (name, row) => reasonFor(row, family),
    '%s: set, then getsockopt reads the new value back',
    async (name, row) => {
      for (const socket of await socketsFor(row, family)) {
        const before = knobs.getsockopt(socket, row.level, name);
        const value = nextValue(row, before);
        expect(value).not.toBe(before);
        if (row.refusedConnected?.includes('tcp') && LINUX) {
          // Linux refuses it on a connected socket (the table's refusedConnected); the value stays as it was.
          expect(() => knobs.setsockopt(socket, row.level, name, value)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
          expect(knobs.getsockopt(socket, row.level, name)).toBe(before);
          continue;
        }
        knobs.setsockopt(socket, row.level, name, value);
        expect(knobs.getsockopt(socket, row.level, name)).toBe(expectedReadBack(row, value));
        // The numeric spelling reaches the same option.
        expect(knobs.getsockopt(socket, knobs.constants[row.level], knobs.constants[name])).toBe(expectedReadBack(row, value));
      }
    },
  );
});

describe('typed helpers read back what the kernel holds', () => {
  test('setKeepAlive sets all four, getKeepAlive reads them back, raw getsockopt agrees', async () => {
    const { client, accepted } = await tcpPair();
    for (const socket of [client, accepted]) {
      expect(knobs.getKeepAlive(socket).enable).toBe(false);
      knobs.setKeepAlive(socket, { enable: true, idle: 60, interval: 10, count: 3 });
      expect(knobs.getKeepAlive(socket)).toEqual({ enable: true, idle: 60, interval: 10, count: 3 });
      expect(knobs.getsockopt(socket, 'SOL_SOCKET', 'SO_KEEPALIVE')).toBe(1);
      expect(knobs.getsockopt(socket, 'IPPROTO_TCP', 'TCP_KEEPIDLE')).toBe(60);
      expect(knobs.getsockopt(socket, 'IPPROTO_TCP', 'TCP_KEEPINTVL')).toBe(10);
      expect(knobs.getsockopt(socket, 'IPPROTO_TCP', 'TCP_KEEPCNT')).toBe(3);
    }
  });

  test('setKeepAlive sets only the fields given, and enable defaults to true', async () => {
    const { client } = await tcpPair();
    const defaults = knobs.getKeepAlive(client);
    knobs.setKeepAlive(client, { interval: defaults.interval + 7 });
    expect(knobs.getKeepAlive(client)).toEqual({ ...defaults, enable: true, interval: defaults.interval + 7 });
    knobs.setKeepAlive(client, { enable: false });
    expect(knobs.getKeepAlive(client)).toEqual({ ...defaults, enable: false, interval: defaults.interval + 7 });
    knobs.setKeepAlive(client);
    expect(knobs.getKeepAlive(client).enable).toBe(true);
  });

  test("Node's own setKeepAlive(true, ms) resets interval and count: the README's warning, shown", async () => {
    const { client } = await tcpPair();
    knobs.setKeepAlive(client, { idle: 30, interval: 5, count: 4 });
    client.setKeepAlive(true, 20000);
    const after = knobs.getKeepAlive(client);
    expect(after.idle).toBe(20);
    // Node 20 and 22 force TCP_KEEPINTVL=1 and TCP_KEEPCNT=10 (newer Node take them as arguments).
    expect([after.interval, after.count]).not.toEqual([5, 4]);
  });

  eachIf(
    [
      ['setReuseAddress', 'getReuseAddress', 'SO_REUSEADDR'],
      ['setReusePort', 'getReusePort', 'SO_REUSEPORT'],
      ['setNoDelay', 'getNoDelay', 'TCP_NODELAY'],
    ],
    (set, get, name) => (knobs.isSupported(name) ? null : `${name} is not defined here`),
    '%s / %s flip %s both ways',
    async (set, get, name) => {
      const { client } = await tcpPair();
      for (const on of [!knobs[get](client), knobs[get](client)]) {
        knobs[set](client, on);
        expect(knobs[get](client)).toBe(on);
        expect(knobs.getsockopt(client, knobs.OPTIONS.find((r) => r.name === name).level, name)).toBe(on ? 1 : 0);
      }
    },
  );

  test('a listening server reports SO_REUSEADDR on (libuv set it before bind)', async () => {
    const server = await listen();
    expect(knobs.getReuseAddress(server)).toBe(true);
  });

  testIf(
    knobs.isSupported('TCP_USER_TIMEOUT') ? null : 'TCP_USER_TIMEOUT is not defined here',
    'setUserTimeout / getUserTimeout in milliseconds, or a string with its unit',
    async () => {
      const { accepted } = await tcpPair();
      expect(knobs.getUserTimeout(accepted)).toBe(0);
      knobs.setUserTimeout(accepted, 2500);
      expect(knobs.getUserTimeout(accepted)).toBe(2500);
      expect(knobs.getsockopt(accepted, 'IPPROTO_TCP', 'TCP_USER_TIMEOUT')).toBe(2500);
      knobs.setUserTimeout(accepted, '1.5s');
      expect(knobs.getUserTimeout(accepted)).toBe(1500);
      knobs.setUserTimeout(accepted, '2m');
      expect(knobs.getUserTimeout(accepted)).toBe(120000);
    },
  );

  test('buffer sizes: Linux doubles what is set and reports the doubled size', async () => {
    const { client } = await tcpPair();
    knobs.setReceiveBufferSize(client, 65536);
    knobs.setSendBufferSize(client, 32768);
    expect(knobs.getReceiveBufferSize(client)).toBe(LINUX ? 131072 : 65536);
    expect(knobs.getSendBufferSize(client)).toBe(LINUX ? 65536 : 32768);
  });

  test('SO_LINGER as a struct: setLinger / getLinger and the raw Buffer form agree', async () => {
    const { client } = await tcpPair();
    expect(knobs.getLinger(client)).toEqual({ enable: false, seconds: 0 });
    knobs.setLinger(client, { enable: true, seconds: 7 });
    expect(knobs.getLinger(client)).toEqual({ enable: true, seconds: 7 });
    const raw = knobs.getsockopt(client, 'SOL_SOCKET', 'SO_LINGER', 64);
    expect(raw.length).toBe(8);
    expect([raw.readInt32LE(0), raw.readInt32LE(4)]).toEqual([1, 7]);
    const struct = Buffer.alloc(8);
    struct.writeInt32LE(1, 0);
    struct.writeInt32LE(3, 4);
    knobs.setsockopt(client, 'SOL_SOCKET', 'SO_LINGER', new Uint8Array(struct));
    expect(knobs.getLinger(client)).toEqual({ enable: true, seconds: 3 });
  });

  test('read-only options report the kernel state: SO_TYPE tells TCP from UDP, SO_ERROR is 0', async () => {
    const { client } = await tcpPair();
    const udp = await udpSocket();
    const stream = knobs.getsockopt(client, 'SOL_SOCKET', 'SO_TYPE');
    const datagram = knobs.getsockopt(udp, 'SOL_SOCKET', 'SO_TYPE');
    expect(stream).not.toBe(datagram);
    if (LINUX) expect([stream, datagram]).toEqual([1, 2]); // SOCK_STREAM, SOCK_DGRAM
    expect(knobs.getsockopt(client, 'SOL_SOCKET', 'SO_ERROR')).toBe(0);
  });

  test('booleans are accepted by the raw setter as 1 and 0', async () => {
    const { client } = await tcpPair();
    knobs.setsockopt(client, 'IPPROTO_TCP', 'TCP_NODELAY', true);
    expect(knobs.getsockopt(client, 'IPPROTO_TCP', 'TCP_NODELAY')).toBe(1);
    knobs.setsockopt(client, 'IPPROTO_TCP', 'TCP_NODELAY', false);
    expect(knobs.getsockopt(client, 'IPPROTO_TCP', 'TCP_NODELAY')).toBe(0);
  });

  test('a raw fd reaches the same socket as the object', async () => {
    const { client } = await tcpPair();
    const fd = client._handle.fd;
    knobs.setKeepAlive(fd, { idle: 42 });
    expect(knobs.getKeepAlive(client).idle).toBe(42);
  });

  test('UDP sockets take SOL_SOCKET options', async () => {
    const udp = await udpSocket();
    knobs.setReuseAddress(udp, true);
    expect(knobs.getReuseAddress(udp)).toBe(true);
    knobs.setReuseAddress(udp, false);
    expect(knobs.getReuseAddress(udp)).toBe(false);
  });
});

describe('TLS sockets are reached through the TCP handle they wrap', () => {
  const tls = require('node:tls');

  testIf(noOpenssl(), 'tls.connect and the TLS server side both take keepalive', async () => {
    const { key, cert } = selfSignedCert();
    let serverSide;
    const serverDone = new Promise((resolve) => (serverSide = resolve));
    const server = tls.createServer({ key, cert }, (s) => {
      try {
        knobs.setKeepAlive(s, { idle: 33 });
        serverSide(knobs.getKeepAlive(s).idle);
      } catch (err) {
        serverSide(err);
      }
      s.end();
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = tls.connect({ port: server.address().port, host: '127.0.0.1', ca: cert, servername: 'localhost' });
    await new Promise((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
    knobs.setKeepAlive(client, { idle: 44 });
    expect(knobs.getKeepAlive(client).idle).toBe(44);
    expect(await serverDone).toBe(33);
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
});
