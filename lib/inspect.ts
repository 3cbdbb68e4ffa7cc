/**
 * inspectProcess(): the operator's view of a running process's TCP sockets (Linux): for each, its
 * addresses and state, its tuning as getTuning() reads it, and its TCP_INFO. What `ss` cannot show:
 * keepalive interval and count, the user timeout, the congestion control of each socket.
 *
 * The sockets are found in /proc/PID/fd and matched by inode with /proc/PID/net/tcp and tcp6 (the
 * process's own network namespace). Each is read through a copy of its fd, borrowed with
 * pidfd_getfd (Linux 5.6+; root or CAP_SYS_PTRACE in practice): one copy open at a time, closed at
 * once. Nothing is set. Borrowing re-labels a socket where cgroup v1 net_cls/net_prio tag it
 * (the kernel gives it the borrower's class): there, unless allowRelabel, nothing is borrowed.
 */
import fs = require('node:fs');
import { borrowFd, closeSocket, openProcess, syscallError } from './core/syscall';
import { SyscallError } from './core/errors';
import { os } from './core/builtins';
import { validateInteger } from './core/validate';
import { getTcpInfo, type TcpInfo } from './options/tcpinfo';
import { stateName } from './options/tcpinfo-layout';
import { driftOf, getTuning, type TuningState } from './tuning/readback';
import { compileTuning, type Plan, type Tuning } from './tuning/tuning';
import type { TuningPath } from './core/table';
import { readOptions, validateBoolean } from './core/validate';

/** One TCP socket of the inspected process. */
export interface InspectedConnection {
  /** The socket's fd number in that process. */
  readonly fd: number;
  /** `address:port` (IPv6 in brackets). */
  readonly local: string;
  readonly remote: string;
  /** 'ESTABLISHED', 'LISTEN', ... as /proc/net/tcp says. */
  readonly state: string;
  readonly tuning?: TuningState;
  readonly tcpInfo?: TcpInfo;
  /** Why this socket could not be read (it closed meanwhile), if it could not. */
  readonly error?: string;
  /**
   * Why its tuning and TCP_INFO were not read, when borrowing its fd would change the socket (see
   * `allowRelabel`): the row has its addresses and state, from /proc, and nothing borrowed.
   */
  readonly unavailable?: string;
  /**
   * With `expect`, on every socket but a listener: the Tuning paths whose kernel value differs from
   * it (empty when none), compared by the function observe()'s drift uses.
   */
  readonly drift?: readonly TuningPath[];
}

export interface InspectOptions {
  /** The tuning the process should hold (every Tuning field, deadPeerTimeout included: expanded as tune() expands it). */
  expect?: Tuning;
  /**
   * Borrow fds even where that re-labels their sockets: pidfd_getfd() moves a socket into the
   * borrowing process's cgroup v1 net_cls class and net_prio index, for the rest of its life (a
   * traffic-control or firewall policy on the target's class stops matching it). Default false:
   * where the two processes are in different net_cls or net_prio cgroups, nothing is borrowed and
   * those rows say `unavailable`.
   */
  allowRelabel?: boolean;
}

/** A process's cgroup v1 path in each hierarchy holding net_cls or net_prio (none: cgroup v2 only, or neither mounted). */
function socketTagCgroups(pid: number | 'self'): Map<string, string> {
  const paths = new Map<string, string>();
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return paths;
  }
  for (const line of text.split('\n')) {
    const [, controllers = '', ...rest] = line.split(':');
    for (const c of controllers.split(',')) if (c === 'net_cls' || c === 'net_prio') paths.set(c, rest.join(':'));
  }
  return paths;
}

/**
 * Why borrowing `pid`'s fds would re-label its sockets, or null when it would not: pidfd_getfd runs
 * the kernel's __receive_sock(), which gives the socket the borrower's net_cls class id and net_prio
 * index. Nothing changes where no cgroup v1 hierarchy holds those controllers, or where both
 * processes are in the same cgroup of each.
 */
function relabelReason(pid: number): string | null {
  const theirs = socketTagCgroups(pid);
  const ours = socketTagCgroups('self');
  const differ = [...theirs].filter(([controller, path]) => ours.get(controller) !== path).map(([controller]) => controller);
  if (differ.length === 0) return null;
  return `not borrowed: pidfd_getfd would move the socket into this process's ${differ.join(' and ')} cgroup (cgroup v1), re-labelling its traffic for the rest of its life; run the inspector in the target's cgroup, or pass allowRelabel (--allow-relabel) to accept it`;
}

/** The kernel's largest pid (/proc/sys/kernel/pid_max; 4194304, the 64-bit maximum, where it cannot be read). */
function pidMax(): number {
  try {
    const value = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'latin1').trim());
    return Number.isInteger(value) && value > 0 ? value : 4194304;
  } catch {
    return 4194304;
  }
}

/** An address of /proc/net/tcp{,6}: hex, in the kernel's (little-endian) word order. */
function procAddress(hex: string): string {
  const [addr, port] = hex.split(':') as [string, string];
  const portNumber = parseInt(port, 16);
  if (addr.length === 8) {
    const b = Buffer.from(addr, 'hex').reverse();
    return `${b.join('.')}:${portNumber}`;
  }
  // IPv6: four 32-bit words, each in host byte order.
  const bytes = Buffer.alloc(16);
  for (let w = 0; w < 4; w++)
    Buffer.from(addr.slice(w * 8, w * 8 + 8), 'hex')
      .reverse()
      .copy(bytes, w * 4);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  const text = groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
  return `[${text}]:${portNumber}`;
}

/** inode -> { local, remote, state } for the TCP sockets of `pid`'s network namespace (`self`: this process's). */
function tcpTable(pid: number | 'self'): Map<string, { local: string; remote: string; state: string }> {
  const table = new Map<string, { local: string; remote: string; state: string }>();
  for (const file of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue; // no IPv6 here
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      table.set(f[9]!, { local: procAddress(f[1]!), remote: procAddress(f[2]!), state: stateName(parseInt(f[3]!, 16)) });
    }
  }
  return table;
}

/**
 * Every TCP socket of process `pid`: addresses, state, tuning and TCP_INFO, read through borrowed
 * copies of its fds; with `options.expect`, each socket's drift from that tuning. Throws
 * SyscallError when the process cannot be read: EACCES from reading /proc/PID/fd and EPERM from
 * pidfd_getfd (both: root or CAP_SYS_PTRACE is needed), ESRCH (no such process), ENOSYS (a kernel
 * before 5.6). A pid outside 1..pid_max, or a bad `expect`, is an InvalidArgumentError first.
 */
export function inspectProcess(pid: number, options?: InspectOptions): { connections: InspectedConnection[] } {
  validateInteger(pid, 'pid', 1, pidMax());
  const given = readOptions(options, 'options', ['expect', 'allowRelabel'] as const);
  const plan: Plan | undefined = given.expect === undefined ? undefined : compileTuning(given.expect, 'options.expect');
  const allowRelabel = given.allowRelabel === undefined ? false : validateBoolean(given.allowRelabel, 'options.allowRelabel');
  let entries: string[];
  try {
    entries = fs.readdirSync(`/proc/${pid}/fd`);
  } catch (err) {
    // /proc/PID missing: no such process; unreadable: not ours to read.
    const { errno } = os().constants;
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw syscallError(
      missing ? errno.ESRCH : errno.EACCES,
      'open',
      {},
      undefined,
      missing ? `no process ${pid}` : `open /proc/${pid}/fd: reading another process's fds needs root or CAP_SYS_PTRACE`,
    );
  }
  const sockets = new Map<number, string>();
  for (const entry of entries) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${entry}`));
      if (m) sockets.set(Number(entry), m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const table = tcpTable(pid);
  const unavailable = allowRelabel ? null : relabelReason(pid);
  if (unavailable !== null) {
    const rows = [...sockets].sort((a, b) => a[0] - b[0]).flatMap(([fd, inode]) => (table.has(inode) ? [{ fd, ...table.get(inode)!, unavailable }] : []));
    return { connections: rows };
  }
  return { connections: borrowEach(pid, sockets, table, plan) };
}

/** Each TCP socket of `sockets` read through a borrowed copy of its fd, one at a time. */
function borrowEach(
  pid: number,
  sockets: Map<number, string>,
  table: Map<string, { local: string; remote: string; state: string }>,
  plan: Plan | undefined,
): InspectedConnection[] {
  const pidfd = openProcess(pid);
  const connections: InspectedConnection[] = [];
  try {
    for (const [fd, inode] of [...sockets].sort((a, b) => a[0] - b[0])) {
      const row = table.get(inode);
      if (!row) continue; // a UDP, Unix or other socket
      let copy = -1;
      try {
        copy = borrowFd(pidfd, fd);
        const tuning = getTuning(copy);
        const drift = plan && row.state !== 'LISTEN' ? { drift: driftOf(plan, tuning) } : {};
        connections.push({ fd, ...row, tuning, tcpInfo: getTcpInfo(copy), ...drift });
      } catch (err) {
        // Permission and kernel errors are the whole call's; a socket gone meanwhile is this row's.
        if (err instanceof SyscallError && err.syscall === 'pidfd_getfd' && err.code !== 'EBADF') throw err;
        connections.push({ fd, ...row, error: err instanceof Error ? err.message : String(err) });
      } finally {
        if (copy >= 0) closeSocket(copy);
      }
    }
  } finally {
    closeSocket(pidfd);
  }
  return connections;
}

/** A socket on the port findSockets() was asked about, and the process that holds it. */
export interface PortSocket {
  /** The process holding it, or null when no process this one may read holds it (another user's, without root). */
  readonly pid: number | null;
  /** Its command: argv[0]'s base name, else its thread name (/proc/PID/cmdline, /proc/PID/comm). */
  readonly command: string | null;
  /** Its fd number in that process. */
  readonly fd: number | null;
  readonly local: string;
  readonly remote: string;
  readonly state: string;
}

export interface FindSocketsOptions {
  /** Only listening sockets. */
  listen?: boolean;
  /** Look in the network namespace of this process instead of this one's (a container's). */
  netns?: number;
}

/**
 * The TCP sockets whose local port is `port`, each with the process that holds it, as `ss -p` does:
 * in this process's network namespace, or `options.netns`'s (by a process in it). A cluster's
 * workers are there too (under round-robin the primary holds the listener, the workers the
 * connections). Processes of other users are found only with root (their /proc/PID/fd is unreadable):
 * their sockets are listed with `pid: null`. Reads /proc only: nothing is borrowed or set.
 */
export function findSockets(port: number, options?: FindSocketsOptions): { port: number; sockets: PortSocket[] } {
  validateInteger(port, 'port', 1, 65535);
  const given = readOptions(options, 'options', ['listen', 'netns'] as const);
  const listen = given.listen === undefined ? false : validateBoolean(given.listen, 'options.listen');
  const netns = given.netns === undefined ? 'self' : validateInteger(given.netns, 'options.netns', 1, pidMax());
  if (netns !== 'self' && !fs.existsSync(`/proc/${netns}/net/tcp`)) {
    throw syscallError(os().constants.errno.ESRCH, 'open', {}, undefined, `no process ${netns} to name a network namespace`);
  }
  const wanted = new Map<string, { local: string; remote: string; state: string }>();
  for (const [inode, row] of tcpTable(netns)) {
    // inode 0: a TIME_WAIT or orphaned socket, held by no process.
    if (inode === '0' || !row.local.endsWith(`:${port}`) || (listen && row.state !== 'LISTEN')) continue;
    wanted.set(inode, row);
  }
  const sockets = holders(wanted);
  const held = new Set(sockets.map((s) => s.inode));
  const out: PortSocket[] = sockets.map(({ inode: _inode, ...socket }) => socket);
  for (const [inode, row] of wanted) if (!held.has(inode)) out.push({ pid: null, command: null, fd: null, ...row });
  out.sort((a, b) => (a.pid ?? Infinity) - (b.pid ?? Infinity) || (a.fd ?? 0) - (b.fd ?? 0));
  return { port, sockets: out };
}

/**
 * A process's command: its argv[0]'s base name (/proc/PID/cmdline), else its thread name
 * (/proc/PID/comm: Node 22 and later name their main thread `MainThread`, which says little).
 */
function commandOf(pid: string): string | null {
  try {
    const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    if (argv0) return argv0.slice(argv0.lastIndexOf('/') + 1);
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null; // exited meanwhile
  }
}

/** Every process's fds (those this process may read) that hold one of `wanted`'s sockets, by inode. */
function holders(wanted: Map<string, { local: string; remote: string; state: string }>): (PortSocket & { inode: string })[] {
  const found: (PortSocket & { inode: string })[] = [];
  if (wanted.size === 0) return found;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // exited, or not ours to read
    }
    for (const fd of fds) {
      let link = '';
      try {
        link = fs.readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        // closed meanwhile
      }
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      const row = inode === undefined ? undefined : wanted.get(inode);
      if (!row) continue;
      const command = commandOf(entry);
      found.push({ pid: Number(entry), command, fd: Number(fd), ...row, inode: inode! });
    }
  }
  return found;
}
