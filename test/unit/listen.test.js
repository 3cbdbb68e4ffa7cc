'use strict';
// Listening sockets with options set before bind(), served by Node, and the kernel probe.
const fs = require('node:fs');
const net = require('node:net');
const knobs = require('../..');
const { closeAll, thrown, track, udpSocket, toolEnv, EMULATED, noIPv6, noCommand, testIf } = require('../helpers');

afterEach(closeAll);

const LINUX = process.platform === 'linux';

function openFds() {
  return fs.readdirSync('/proc/self/fd').length;
}

function connectOnce(port, host) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err) => reject(err));
  });
}

function serve() {
  // Clients here often destroy at once: the server side may then see ECONNRESET, which is fine.
  return track(net.createServer((s) => s.on('error', () => {}).end('hello')));
}

describe('listen(): options set before bind, then Node serves the socket', () => {
  test('a connection to the socket is accepted and served by the Node server', async () => {
    const server = await knobs.listen(serve(), { port: 0, host: '127.0.0.1' });
    const { port } = server.address();
    const reply = await new Promise((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1');
      let data = '';
      c.on('data', (d) => (data += d))
        .on('end', () => resolve(data))
        .on('error', reject);
    });
    expect(reply).toBe('hello');
    expect(knobs.getReuseAddress(server)).toBe(true);
  });

  test('with reusePort two servers share one port; without it the second gets EADDRINUSE from bind', async () => {
    const first = await knobs.listen(serve(), { port: 0, host: '127.0.0.1', reusePort: true });
    const { port } = first.address();
    const second = await knobs.listen(serve(), { port, host: '127.0.0.1', reusePort: true });
    expect(second.address().port).toBe(port);
    expect(knobs.getReusePort(first)).toBe(true);
    expect(knobs.getReusePort(second)).toBe(true);

    const before = openFds();
    const err = thrown(() => knobs.createListeningSocket({ port, host: '127.0.0.1' }));
    expect(err).toBeInstanceOf(knobs.SyscallError);
    expect(err).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind', address: '127.0.0.1', port, errno: -98 });
    expect(err.message).toBe(`bind 127.0.0.1:${port} failed: EADDRINUSE (address already in use)`);
    await expect(knobs.listen(serve(), { port, host: '127.0.0.1' })).rejects.toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
    // The socket created for the failed attempts was closed on the failure path.
    expect(openFds()).toBe(before);
  });

  test('no fd leaks over many failing binds', async () => {
    const holder = await knobs.listen(serve(), { port: 0, host: '127.0.0.1' });
    const { port } = holder.address();
    const before = openFds();
    for (let i = 0; i < 2000; i++) {
      expect(() => knobs.createListeningSocket({ port, host: '127.0.0.1' })).toThrow(knobs.SyscallError);
    }
    expect(openFds()).toBe(before);
  });

  test('the socket is created close-on-exec, so child processes never inherit it', () => {
    const fd = knobs.createListeningSocket({ port: 0, host: '127.0.0.1' });
    try {
      const flags = /flags:\s+(\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))[1];
      expect(parseInt(flags, 8) & 0o2000000).toBe(0o2000000); // O_CLOEXEC
    } finally {
      fs.closeSync(fd);
    }
  });

  testIf(noIPv6(), 'ipv6Only decides whether an IPv6 listener also takes IPv4 connections', async () => {
    const dual = await knobs.listen(serve(), { port: 0, host: '::', ipv6Only: false });
    expect(knobs.getsockopt(dual, 'IPPROTO_IPV6', 'IPV6_V6ONLY')).toBe(0);
    await expect(connectOnce(dual.address().port, '127.0.0.1')).resolves.toBe('connected');

    const v6 = await knobs.listen(serve(), { port: 0, host: '::', ipv6Only: true });
    expect(knobs.getsockopt(v6, 'IPPROTO_IPV6', 'IPV6_V6ONLY')).toBe(1);
    await expect(connectOnce(v6.address().port, '127.0.0.1')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(connectOnce(v6.address().port, '::1')).resolves.toBe('connected');
  });

  testIf(noCommand('ss', ['-V'], 'iproute2'), 'the backlog given is the one the kernel holds (Node does not replace it with its own)', async () => {
    const server = await knobs.listen(serve(), { port: 0, host: '127.0.0.1', backlog: 7 });
    const ss = require('node:child_process').spawnSync('ss', ['-Hltn', `( sport = :${server.address().port} )`], { encoding: 'utf8', env: toolEnv() });
    // For a listening socket, ss reports the backlog in the Send-Q column.
    expect(ss.stdout.trim().split(/\s+/)[2]).toBe('7');
  });

  test('reuseAddress: false leaves SO_REUSEADDR off, which Node itself cannot do', async () => {
    const server = await knobs.listen(serve(), { port: 0, host: '127.0.0.1', reuseAddress: false });
    expect(knobs.getReuseAddress(server)).toBe(false);
  });

  test('bad options are refused before any socket is created', async () => {
    const before = openFds();
    const cases = [
      [undefined, 'ERR_INVALID_ARG_TYPE'],
      [{ port: 70000 }, 'ERR_OUT_OF_RANGE'],
      [{ port: '80' }, 'ERR_INVALID_ARG_TYPE'],
      [{ port: 0, host: 'localhost' }, 'ERR_INVALID_ARG_VALUE'],
      [{ port: 0, host: 7 }, 'ERR_INVALID_ARG_TYPE'],
      [{ port: 0, host: '127.0.0.1', ipv6Only: true }, 'ERR_INVALID_ARG_VALUE'],
      [{ port: 0, host: '::1%eth0' }, 'ERR_INVALID_ARG_VALUE'],
      [{ port: 0, reusePort: 'yes' }, 'ERR_INVALID_ARG_TYPE'],
      [{ port: 0, backlog: -1 }, 'ERR_OUT_OF_RANGE'],
      [{ port: 0, backlog: 0 }, 'ERR_OUT_OF_RANGE'],
      [{ port: 0, prot: 1 }, 'ERR_INVALID_ARG_VALUE'],
    ];
    for (const [options, code] of cases) {
      const err = thrown(() => knobs.createListeningSocket(options));
      expect([options, err]).toEqual([options, expect.any(knobs.InvalidArgumentError)]);
      expect([options, err.code]).toEqual([options, code]);
    }
    await expect(knobs.listen({}, { port: 0 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    const listening = await knobs.listen(serve(), { port: 0, host: '127.0.0.1' });
    await expect(knobs.listen(listening, { port: 0 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(openFds()).toBe(before + 1);
  });
});

describe('probe(): what the running kernel accepts', () => {
  test('one entry per option; defined matches isSupported; on Linux every defined option is accepted', () => {
    const result = knobs.probe();
    expect(Object.keys(result).sort()).toEqual(knobs.OPTIONS.map((r) => r.name).sort());
    for (const row of knobs.OPTIONS) {
      expect([row.name, result[row.name].defined]).toEqual([row.name, knobs.isSupported(row.name)]);
      if (!result[row.name].defined) expect(result[row.name].accepted).toBe(false);
      if (!LINUX || !result[row.name].defined) continue;
      if (EMULATED && !result[row.name].accepted) {
        // qemu-user refuses the options it does not translate (ENOPROTOOPT, or EFAULT for
        // SO_BINDTODEVICE): the emulator's answer, not the kernel's, and still a typed errno.
        expect([row.name, result[row.name].code]).toEqual([row.name, expect.stringMatching(/^E[A-Z]+$/)]);
        console.log(`${row.name}: refused by qemu-user (${result[row.name].code}), not by the kernel`);
        continue;
      }
      expect([row.name, result[row.name]]).toEqual([row.name, { defined: true, accepted: true }]);
    }
  });

  test('probe leaves no socket open', () => {
    const before = openFds();
    for (let i = 0; i < 50; i++) knobs.probe();
    expect(openFds()).toBe(before);
  });
});

describe('dgram.Socket targets', () => {
  test('SO_REUSEADDR, SO_REUSEPORT and buffer sizes on a bound UDP socket', async () => {
    const udp = await udpSocket();
    knobs.setReusePort(udp, true);
    expect(knobs.getReusePort(udp)).toBe(true);
    knobs.setReceiveBufferSize(udp, 50000);
    knobs.setSendBufferSize(udp, 40000);
    expect(knobs.getReceiveBufferSize(udp)).toBe(LINUX ? 100000 : 50000);
    expect(knobs.getSendBufferSize(udp)).toBe(LINUX ? 80000 : 40000);
  });
});
