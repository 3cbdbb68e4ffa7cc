'use strict';
// Issue 24 §2.10: what a Multipath TCP socket refuses is known before the first syscall. The probe
// runs once per process on an unconnected MPTCP socket; dial() and listen() check a tuning against
// it with the rest of the validation (the error names MPTCP; no socket is created); getTuning() on an
// MPTCP socket reports every field it can read and lists the ones the protocol cannot; a refusal on
// a connected MPTCP socket (tune()) names MPTCP.
const fs = require('node:fs');
const net = require('node:net');
const knobs = require('../..');
const { mptcpRefuses } = require('../../dist/modules/options/mptcp.js');
const { closeAll, track, describeIf, emulated, firstReason } = require('../helpers');

afterEach(closeAll);

const noMptcp = (() => {
  try {
    return fs.readFileSync('/proc/sys/net/mptcp/enabled', 'utf8').trim() === '1' ? null : 'net.mptcp.enabled is 0 here';
  } catch {
    return 'this kernel has no MPTCP';
  }
})();
const openFds = () => fs.readdirSync('/proc/self/fd').length;

describeIf(firstReason(noMptcp, emulated('TCP_USER_TIMEOUT')), 'Multipath TCP', () => {
  test('the probe: an unconnected MPTCP socket refuses TCP_SYNCNT and TCP_USER_TIMEOUT here, and takes the keepalive timings', () => {
    const refused = mptcpRefuses();
    expect([...refused]).toEqual(expect.arrayContaining(['TCP_SYNCNT', 'TCP_USER_TIMEOUT']));
    for (const name of ['SO_KEEPALIVE', 'TCP_KEEPIDLE', 'TCP_KEEPINTVL', 'TCP_KEEPCNT', 'TCP_NODELAY', 'SO_RCVBUF']) expect(refused.has(name)).toBe(false);
  });

  test.each([
    ['synRetries', { synRetries: 1 }, 'TCP_SYNCNT'],
    ['tuning.userTimeout', { tuning: { keepAlive: { idle: 30 }, userTimeout: 5000 } }, 'TCP_USER_TIMEOUT'],
    ['tuning.deadPeerTimeout', { tuning: { deadPeerTimeout: '12s' } }, 'deadPeerTimeout'],
  ])('dial({ mptcp, %s }): UnsupportedOptionError naming MPTCP, before any socket exists', async (label, extra, option) => {
    const server = track(net.createServer());
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    let accepted = 0;
    server.on('connection', (s) => (accepted++, track(s)));
    const before = openFds();
    const err = await knobs.dial({ host: '127.0.0.1', port: server.address().port, mptcp: true, ...extra }).then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(knobs.UnsupportedOptionError);
    expect(err.option).toBe(option);
    expect(err.message).toMatch(/Multipath TCP/);
    expect(openFds()).toBeLessThanOrEqual(before); // none left (another test's may close meanwhile)
    expect(accepted).toBe(0);
  });

  test.each([
    [{ userTimeout: 5000 }, 'TCP_USER_TIMEOUT'],
    [{ deadPeerTimeout: '12s' }, 'deadPeerTimeout'],
  ])('listen({ mptcp, tuning: %j }): UnsupportedOptionError naming MPTCP and %s, nothing listens', async (tuning, option) => {
    const server = track(net.createServer());
    const before = openFds();
    await expect(knobs.listen(server, { port: 0, host: '127.0.0.1', mptcp: true, tuning })).rejects.toMatchObject({
      name: 'UnsupportedOptionError',
      option,
      message: expect.stringMatching(/Multipath TCP/),
    });
    expect(server.listening).toBe(false);
    expect(openFds()).toBeLessThanOrEqual(before); // none left (another test's may close meanwhile)
  });

  test('getTuning() on a connected MPTCP socket reads keepalive, noDelay and congestion, and lists userTimeout as unavailable; tune() says MPTCP', async () => {
    const server = track(net.createServer((s) => track(s)));
    await knobs.listen(server, { port: 0, host: '127.0.0.1', mptcp: true });
    const socket = track(
      await knobs.dial({
        host: '127.0.0.1',
        port: server.address().port,
        mptcp: true,
        tuning: { keepAlive: { idle: 31, interval: 7, count: 4 }, noDelay: true },
      }),
    );
    expect(knobs.getsockopt(socket, 'IPPROTO_TCP', 'TCP_IS_MPTCP')).toBe(1);
    const state = knobs.getTuning(socket);
    expect(state).toMatchObject({ keepAlive: { enable: true, idle: 31, interval: 7, count: 4 }, noDelay: true, unavailable: ['userTimeout'] });
    expect(typeof state.congestionControl).toBe('string');
    expect(state.userTimeout).toBeUndefined();
    expect(() => knobs.tune(socket, { userTimeout: 5000 })).toThrow(
      expect.objectContaining({ code: 'ENOPROTOOPT', message: expect.stringMatching(/Multipath TCP/) }),
    );
    // A plain TCP socket reports everything, with no unavailable list.
    const plain = track(await knobs.dial({ host: '127.0.0.1', port: server.address().port }));
    expect(knobs.getTuning(plain).unavailable).toBeUndefined();
  });

  test("the table's refusedConnected, measured: on connected TCP and MPTCP sockets (IPv4 and IPv6), each settable int row set to what it reads is refused with EINVAL exactly where its row names the protocol", async () => {
    const measured = [];
    for (const host of ['127.0.0.1', '::1']) {
      const server = track(net.createServer((s) => track(s)));
      await knobs.listen(server, { port: 0, host, mptcp: true });
      const sockets = {
        tcp: track(await knobs.dial({ host, port: server.address().port })),
        mptcp: track(await knobs.dial({ host, port: server.address().port, mptcp: true })),
      };
      for (const row of knobs.OPTIONS) {
        if ((row.kind !== 'int' && row.kind !== 'bool') || row.readOnly || !knobs.isSupported(row.name)) continue;
        if (emulated(row.name)) continue; // qemu-user refuses it itself (ENOPROTOOPT): the kernel is not asked
        if ((host === '::1') !== (row.sockets === 'ipv6')) continue; // each row over the family it is for
        for (const [protocol, socket] of Object.entries(sockets)) {
          let code = 'accepted';
          try {
            knobs.setsockopt(socket, row.level, row.name, knobs.getsockopt(socket, row.level, row.name));
          } catch (err) {
            code = err.code;
          }
          // The MPTCP probe's refusals (ENOPROTOOPT/EOPNOTSUPP) are another matter: not EINVAL.
          measured.push({ name: row.name, protocol, refused: code === 'EINVAL', table: (row.refusedConnected || []).includes(protocol) });
        }
      }
    }
    const disagreeing = measured.filter((m) => m.refused !== m.table);
    expect(disagreeing).toEqual([]);
    expect(measured.filter((m) => m.refused).length).toBeGreaterThanOrEqual(8);
  });

  test('listen({ mptcp, tuning }) and dial({ mptcp, tuning }) refuse, before any socket exists, what a connected MPTCP socket refuses; the before-connect phase takes it', async () => {
    const { checkMptcp } = require('../../dist/modules/options/mptcp.js');
    expect(() => checkMptcp(['SO_REUSEADDR'], 'listen()', 'connected')).toThrow(
      expect.objectContaining({ code: 'ERR_SOCKET_OPTION_UNSUPPORTED', message: expect.stringMatching(/once connected \(EINVAL\)/) }),
    );
    expect(() => checkMptcp(['SO_REUSEADDR', 'IP_FREEBIND', 'TCP_KEEPIDLE'], 'dial()', 'unconnected')).not.toThrow();
  });
});
