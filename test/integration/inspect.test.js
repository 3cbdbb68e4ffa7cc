'use strict';
// inspectProcess() (issue 28): every row's fields come from one socket, whatever the process does
// meanwhile; what the kernel's socket diagnostics give is read in the process's own network
// namespace, without borrowing; a process that dies while it is read is ESRCH, never another's rows.
const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');
const knobs = require('../..');
const { EMULATED, firstReason, noCommand, notRoot, testIf, waitFor } = require('../helpers');

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
      // As many reads as it takes to see 1,000 rows and 300 fd reuses (a loaded machine churns
      // slower: 150 reads gave 828 rows once), at least 150, for at most 30 s.
      const deadline = Date.now() + 30000;
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
