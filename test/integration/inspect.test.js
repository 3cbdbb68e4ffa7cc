'use strict';
// inspectProcess() (issue 28): every row's fields come from one socket, whatever the process does
// meanwhile; what the kernel's socket diagnostics give is read in the process's own network
// namespace, without borrowing; a process that dies while it is read is ESRCH, never another's rows.
const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');
const knobs = require('../..');
const { EMULATED, firstReason, noCommand, notRoot, testIf, waitFor } = require('../helpers');
const { mulberry32 } = require('../helpers/random');

const FIXTURES = path.join(__dirname, '..', 'fixtures');
const reason = firstReason(process.platform === 'linux' ? null : 'pidfd_getfd is Linux-only', notRoot('pidfd_getfd on another process needs CAP_SYS_PTRACE'));
// qemu-user has no NETLINK_SOCK_DIAG (the inspector falls back to /proc there), and starts a process in
// about a second: the x64 tiers run these.
const noDiag = EMULATED ? 'qemu-user has no NETLINK_SOCK_DIAG (EPROTONOSUPPORT), and is too slow to churn fds: the x64 tiers run it' : null;
const portOf = (address) => Number(address.slice(address.lastIndexOf(':') + 1));

/** Starts a fixture; resolves with the child and the port it printed. */
async function start(file, args = [], command = process.execPath, prefix = []) {
  const child = spawn(command, [...prefix, path.join(FIXTURES, file), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const line = await waitFor(() => out.split('\n').find((l) => l.startsWith('{')), { ms: 15000, what: file });
  return { child, ...JSON.parse(line) };
}

testIf(
  firstReason(reason, noDiag),
  'fd churn: reads of a process reusing its fd numbers all the while (at least 1,000 rows and 300 reuses), 0 rows mixing two sockets',
  async () => {
    const { child, ready: port } = await start('churn-process.js');
    try {
      let rows = 0;
      let named = 0;
      const mixed = [];
      const inodeOfFd = new Map();
      let reused = 0;
      let reads = 0;
      // As many reads as it takes to see 1,000 rows and 300 fd reuses, at least 150, for at most
      // 50 s. A loaded machine sees fewer rows per read (a read that takes longer finds more of the
      // fixture's sockets replaced, whose copies are then not rows): 150 reads gave 828 rows once,
      // and 30 s of reads 529 rows in a CI run of the node-matrix tier.
      const deadline = Date.now() + 50000;
      while (reads < 150 || ((rows < 1000 || reused < 300) && Date.now() < deadline)) {
        reads++;
        for (const c of knobs.inspectProcess(child.pid).connections) {
          if (inodeOfFd.has(c.fd) && inodeOfFd.get(c.fd) !== c.inode) reused++;
          inodeOfFd.set(c.fd, c.inode);
          if (c.state !== 'ESTABLISHED' || !c.tuning) continue;
          rows++;
          const timeout = c.tuning.userTimeout;
          if (timeout === 1) continue; // accepted a moment ago: the listener's value, not re-tuned yet
          named++;
          const expected = portOf(c.remote) === port ? portOf(c.local) : portOf(c.local) === port ? portOf(c.remote) + 70000 : NaN;
          if (timeout !== expected) mixed.push({ fd: c.fd, local: c.local, remote: c.remote, userTimeout: timeout });
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(mixed).toEqual([]);
      // The check had something to check: fd numbers were reused from read to read (without the
      // inode check, this fixture gives about 2,700 mixed rows in 150 reads), and most rows carry a
      // tuning that names their socket.
      console.log(`fd churn: ${rows} rows over ${reads} reads, ${named} named by their tuning, fd numbers reused ${reused} times, 0 mixed`);
      expect({ reused: reused >= 300, rows: rows >= 1000, named: named > rows / 2 }).toEqual({ reused: true, rows: true, named: true });
    } finally {
      child.stdin.end();
    }
  },
  90000,
);

testIf(firstReason(reason, noDiag), 'what the diagnostics give, in every row: inode, owner, queues, TCP_INFO, congestion, memory', async () => {
  const { child, ready: port } = await start('busy-process.js');
  try {
    const { connections } = knobs.inspectProcess(child.pid);
    const listener = connections.find((c) => c.state === 'LISTEN');
    expect(listener).toMatchObject({ local: `127.0.0.1:${port}`, receiveQueue: 0, uid: process.getuid() });
    // A listener's send queue is its accept queue's limit: the backlog Node asked for, capped by somaxconn.
    const somaxconn = Number(require('node:fs').readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    expect(listener.sendQueue).toBe(Math.min(511, somaxconn));
    const client = connections.find((c) => c.remote === `127.0.0.1:${port}`);
    const fdInode = Number(/\d+/.exec(require('node:fs').readlinkSync(`/proc/${child.pid}/fd/${client.fd}`))[0]);
    expect(client.inode).toBe(fdInode);
    expect(client.congestion).toBe(client.tuning.congestionControl);
    expect(client.tcpInfo.state).toBe('ESTABLISHED');
    expect(client.tcpInfo.rtt).toBeGreaterThan(0);
    expect(client.memory.receiveBuffer).toBeGreaterThan(0);
    expect(typeof client.classId).toBe('number');
    expect(client.tuning.keepAlive).toMatchObject({ idle: 77, interval: 7, count: 3 });
  } finally {
    child.stdin.end();
  }
});

testIf(
  firstReason(reason, noCommand('unshare', ['--version'])),
  "a process in its own network namespace: its sockets are read there (setns), none of this namespace's in its place",
  async () => {
    // The target's namespace has only loopback; this namespace holds a listener on the same port.
    const target = await start('busy-process.js', [], 'unshare', ['-n', 'sh', '-c', `ip link set lo up && exec "${process.execPath}" "$0"`]);
    const net = require('node:net');
    const decoy = net.createServer();
    await new Promise((resolve, reject) => decoy.once('error', reject).listen(target.ready, '127.0.0.1', resolve));
    try {
      const pid = Number(spawnSync('pgrep', ['-P', String(target.child.pid)], { encoding: 'utf8' }).stdout.trim()) || target.child.pid;
      const { connections } = knobs.inspectProcess(pid);
      expect(connections.map((c) => c.state).sort()).toEqual(['ESTABLISHED', 'ESTABLISHED', 'LISTEN']);
      const client = connections.find((c) => c.remote === `127.0.0.1:${target.ready}`);
      expect(client.tcpInfo.state).toBe('ESTABLISHED');
      expect(client.tuning.keepAlive).toMatchObject({ idle: 77, interval: 7, count: 3 });
      // The decoy's inode is not among the target's rows.
      expect(connections.every((c) => c.inode !== undefined)).toBe(true);
    } finally {
      decoy.close();
      target.child.stdin.end();
    }
  },
);

const noMptcp = (() => {
  try {
    return require('node:fs').readFileSync('/proc/sys/net/mptcp/enabled', 'utf8').trim() === '1' ? null : 'net.mptcp.enabled is 0 here';
  } catch {
    return 'this kernel has no MPTCP';
  }
})();

testIf(
  firstReason(reason, noDiag, noMptcp),
  "Multipath TCP sockets are rows too (mptcp_diag): protocol mptcp, the connection's mptcp_info, no tcp_info of a subflow posing as its own",
  async () => {
    const { child, ready: port } = await start('mptcp-process.js');
    try {
      const { connections } = knobs.inspectProcess(child.pid);
      expect(connections.map((c) => `${c.protocol} ${c.state}`).sort()).toEqual(['mptcp ESTABLISHED', 'mptcp ESTABLISHED', 'mptcp LISTEN']);
      const client = connections.find((c) => c.remote === `127.0.0.1:${port}`);
      const accepted = connections.find((c) => c.local === `127.0.0.1:${port}` && c.state === 'ESTABLISHED');
      expect(client.mptcpInfo).toMatchObject({ bytesSent: 100000, bytesAcked: 100000, subflowsTotal: 1 });
      expect(accepted.mptcpInfo).toMatchObject({ bytesReceived: 100000 });
      for (const c of connections) expect(c.tcpInfo).toBeUndefined();
      expect(client.tuning.keepAlive).toMatchObject({ enable: true, idle: 33, interval: 3, count: 3 });
    } finally {
      child.stdin.end();
    }
  },
);

testIf(
  firstReason(reason, noDiag, noCommand('unshare', ['--version']), noCommand('setpriv', ['--version'], 'util-linux')),
  'without the diagnostics (setns refused: no CAP_SYS_ADMIN; as under qemu-user, which has no NETLINK_SOCK_DIAG): /proc/PID/net/tcp, and TCP_INFO through the borrowed copy',
  async () => {
    const target = await start('busy-process.js', [], 'unshare', ['-n', 'sh', '-c', `ip link set lo up && exec "${process.execPath}" "$0"`]);
    try {
      // CAP_SYS_PTRACE kept (pidfd_getfd), CAP_SYS_ADMIN dropped (setns into the target's namespace).
      const cli = spawnSync(
        'setpriv',
        [
          '--bounding-set',
          '-sys_admin',
          '--inh-caps',
          '-sys_admin',
          process.execPath,
          path.join(__dirname, '..', '..', 'bin', 'socket-knobs.js'),
          '--json',
          '--pid',
          String(target.child.pid),
        ],
        { encoding: 'utf8' },
      );
      expect(cli.stderr).toBe('');
      const { connections } = JSON.parse(cli.stdout);
      expect(connections.map((c) => c.state).sort()).toEqual(['ESTABLISHED', 'ESTABLISHED', 'LISTEN']);
      for (const c of connections) expect(c).toMatchObject({ source: 'proc', tcpInfo: { state: c.state }, tuning: expect.any(Object) });
      const listener = connections.find((c) => c.state === 'LISTEN');
      expect(listener.sendQueue).toBe(listener.tcpInfo.sacked);
      const client = connections.find((c) => c.remote === `127.0.0.1:${target.ready}`);
      expect(client.tuning.keepAlive).toMatchObject({ idle: 77, interval: 7, count: 3 });
      expect(client.memory).toBeUndefined();
      // With CAP_SYS_ADMIN, the same process is read through the diagnostics.
      expect(knobs.inspectProcess(target.child.pid).connections.every((c) => c.source === 'diagnostics')).toBe(true);
    } finally {
      target.child.stdin.end();
    }
  },
);

testIf(
  firstReason(reason, noDiag),
  'a process that exits while it is read: a whole result or ESRCH, over 40 exits at random moments',
  async () => {
    const outcomes = { whole: 0, gone: 0 };
    for (let i = 0; i < 40; i++) {
      const { child } = await start('busy-process.js');
      setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 3));
      const deadline = Date.now() + 2000;
      while (Date.now() < deadline) {
        try {
          const { connections } = knobs.inspectProcess(child.pid);
          // Every row it returns is the process's own: its three sockets at most.
          expect(connections.length).toBeLessThanOrEqual(3);
          outcomes.whole++;
        } catch (err) {
          expect(err.code).toBe('ESRCH');
          outcomes.gone++;
          break;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    expect(outcomes.gone).toBe(40);
  },
  120000,
);

// --- filters, limit and summary -----------------------------------------------------------------

/** What a row is, minus what moves between two reads of a still process (TCP_INFO, memory, queues). */
const rowKey = (c) => JSON.stringify([c.fd, c.inode, c.state, c.local, c.remote, c.congestion, c.tuning ?? null, c.error ?? null, c.drift ?? null]);

/** The summary of `rows` (of `sockets` in all), computed here from the rows alone, each list in a fixed order. */
function summaryOf(rows, sockets) {
  const count = (key) => {
    const counts = new Map();
    for (const row of rows) counts.set(key(row), (counts.get(key(row)) ?? 0) + 1);
    return [...counts].map(([k, n]) => `${n} ${k}`).sort();
  };
  const tuningKey = (c) => {
    if (c.error) return 'unreadable';
    if (c.unavailable) return 'unavailable';
    if (c.state === 'LISTEN') return 'listener';
    return JSON.stringify({ keepAlive: c.tuning.keepAlive, userTimeout: c.tuning.userTimeout });
  };
  return { sockets, matched: rows.length, byState: count((c) => c.state), byTuning: count(tuningKey) };
}

/** A result's summary in summaryOf()'s form; and its lists are sorted most first. */
function comparable(summary) {
  for (const list of [summary.byState, summary.byTuning]) expect(list.map((e) => e.sockets)).toEqual([...list.map((e) => e.sockets)].sort((a, b) => b - a));
  const tuningKey = ({ kind, sockets: _n, ...group }) => (kind === 'connection' ? JSON.stringify(group) : kind);
  return {
    sockets: summary.sockets,
    matched: summary.matched,
    byState: summary.byState.map((e) => `${e.sockets} ${e.state}`).sort(),
    byTuning: summary.byTuning.map((e) => `${e.sockets} ${tuningKey(e)}`).sort(),
  };
}

testIf(
  firstReason(reason, noDiag),
  'filters and limit, over 60 random combinations on a still process: the rows are the first `limit` of those the filter keeps, and the summary counts all it keeps (counted or listed alike)',
  async () => {
    const { child, ready: port, port6 } = await start('summary-process.js');
    try {
      const all = knobs.inspectProcess(child.pid);
      // With expect every row is made (its drift is compared): the other way to a summary.
      const expected = { keepAlive: { idle: 30, interval: 5, count: 4 }, userTimeout: 20000 };
      const allChecked = knobs.inspectProcess(child.pid, { expect: expected });
      expect(all.summary).toEqual(expect.objectContaining({ sockets: all.connections.length, matched: all.connections.length }));
      // The fixture's own sockets, each kind there: the check has something to tell apart.
      expect(comparable(all.summary)).toEqual(summaryOf(all.connections, all.connections.length));
      expect(new Set(all.connections.map((c) => c.state))).toEqual(new Set(['LISTEN', 'ESTABLISHED', 'CLOSE_WAIT', 'FIN_WAIT2']));
      const portOfText = (address) => Number(address.slice(address.lastIndexOf(':') + 1));
      const hostOf = (address) => address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '');
      const choices = {
        state: ['LISTEN', 'ESTABLISHED', 'CLOSE_WAIT', 'SYN_SENT'],
        localPort: [
          port,
          port6 ?? port,
          all.connections
            .find((c) => c.state === 'ESTABLISHED' && portOfText(c.local) !== port)
            .local.split(':')
            .pop() * 1,
        ],
        remotePort: [port, port6 ?? port, 1],
        // The same addresses spelt otherwise: the filter compares addresses, not text.
        peer: ['127.0.0.1', '::1', '[::1]', '0:0:0::1', '10.9.9.9'],
      };
      // Seeded: a failing combination is printed (options) and replays.
      const random = mulberry32(28);
      const pick = (list) => list[Math.floor(random() * list.length)];
      for (let i = 0; i < 60; i++) {
        const options = {};
        for (const [name, list] of Object.entries(choices)) if (random() < 0.35) options[name] = pick(list);
        if (random() < 0.8) options.limit = pick([0, 1, 2, 5, 17, 50, 1000]);
        if (random() < 0.3) options.expect = expected;
        const kept = (options.expect ? allChecked : all).connections.filter(
          (c) =>
            (options.state === undefined || c.state === options.state) &&
            (options.localPort === undefined || portOfText(c.local) === options.localPort) &&
            (options.remotePort === undefined || portOfText(c.remote) === options.remotePort) &&
            (options.peer === undefined || hostOf(c.remote) === { '[::1]': '::1', '0:0:0::1': '::1' }[options.peer] || hostOf(c.remote) === options.peer),
        );
        const got = knobs.inspectProcess(child.pid, options);
        const limit = options.limit ?? Infinity;
        expect({ options, rows: got.connections.map(rowKey) }).toEqual({ options, rows: kept.slice(0, limit).map(rowKey) });
        expect({ options, summary: comparable(got.summary) }).toEqual({ options, summary: summaryOf(kept, all.connections.length) });
        const checked = { checked: got.summary.checked, differing: got.summary.differing };
        const drifts = kept.filter((c) => c.drift);
        expect({ options, checked }).toEqual({
          options,
          checked: options.expect ? { checked: drifts.length, differing: drifts.filter((c) => c.drift.length > 0).length } : {},
        });
      }
    } finally {
      child.stdin.end();
    }
  },
  60000,
);

testIf(
  process.platform === 'linux' ? null : 'reads /proc/sys/kernel/pid_max',
  'a bad filter or limit is an InvalidArgumentError naming its field, before any syscall (here: a pid that names no process)',
  () => {
    // The largest pid: no process has it here (ESRCH, were it read).
    const nobody = Number(require('node:fs').readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    const bad = [
      [{ state: 'established' }, 'options.state'],
      [{ state: 'TIME-WAIT' }, 'options.state'],
      [{ localPort: 0 }, 'options.localPort'],
      [{ localPort: 65536 }, 'options.localPort'],
      [{ remotePort: '80' }, 'options.remotePort'],
      [{ peer: 'localhost' }, 'options.peer'],
      [{ peer: '10.0.0.256' }, 'options.peer'],
      [{ peer: 1 }, 'options.peer'],
      [{ limit: -1 }, 'options.limit'],
      [{ limit: 1.5 }, 'options.limit'],
      [{ limit: Infinity }, 'options.limit'],
      [{ states: 'LISTEN' }, 'options.states'],
    ];
    for (const [options, argument] of bad) {
      let thrown;
      try {
        knobs.inspectProcess(nobody, options);
      } catch (err) {
        thrown = err;
      }
      expect({ options, error: thrown instanceof knobs.InvalidArgumentError, argument: thrown?.argument }).toEqual({ options, error: true, argument });
    }
  },
);
