/**
 * inspectProcess(): the operator's view of a running process's TCP sockets (Linux): for each, its
 * addresses and state, its TCP_INFO, congestion control, memory and class id, and its tuning as
 * getTuning() reads it. What `ss` cannot show: keepalive interval and count, the user timeout and
 * nodelay of each socket.
 *
 * Everything the kernel's socket diagnostics give comes from them (lib/inspect/diag.ts, read in
 * the process's own network namespace), matched by inode with /proc/PID/fd: nothing is borrowed
 * for it. Only the tuning is read through a copy of the fd, borrowed with pidfd_getfd (Linux 5.6+;
 * root or CAP_SYS_PTRACE), one at a time and closed at once, and only where borrowing cannot
 * re-label the socket (see allowRelabel). Nothing is set.
 *
 * Every row comes from one socket: the pidfd is opened before /proc/PID/fd is read and checked
 * after (a pid reused meanwhile is not the process asked about), and a borrowed copy whose inode
 * is not the row's (the fd was closed and reused meanwhile) is re-matched or left out, never mixed.
 */
import fs = require('node:fs');
import { borrowFd, borrowInCgroups, closeSocket, openProcess, syscallError, type CgroupToJoin } from './core/syscall';
import { SyscallError } from './core/errors';
import { os } from './core/builtins';
import { validateInteger } from './core/validate';
import { driftOf, readTuning, type TuningState } from './tuning/readback';
import { compileTuning, type Plan, type Tuning } from './tuning/tuning';
import type { TuningPath } from './core/table';
import { readOptions, validateBoolean } from './core/validate';
import { diagnose, type DiagSocket } from './inspect/diag';
import { getTcpInfo, type TcpInfo } from './options/tcpinfo';
import { holders, pidMax, tcpTable, type ProcSocket } from './inspect/proc';
import { borrowPlan, mountRoot } from './inspect/cgroups';

export type { SocketMemory } from './inspect/diag';
export type { MptcpInfo } from './options/mptcp-info';

/** One TCP socket of the inspected process. */
export interface InspectedConnection extends DiagSocket {
  /** The socket's fd number in that process. */
  readonly fd: number;
  /** Its tuning, read through a borrowed copy of the fd (absent where `unavailable` or `error` says why). */
  readonly tuning?: TuningState;
  /** Why this socket's tuning could not be read (it closed meanwhile), if it could not. */
  readonly error?: string;
  /**
   * Why its tuning was not read, when borrowing its fd would change the socket (see
   * `allowRelabel`): the row has everything the diagnostics give, and nothing borrowed.
   */
  readonly unavailable?: string;
  /**
   * With `expect`, on every socket but a listener whose tuning was read: the Tuning paths whose
   * kernel value differs from it (empty when none), compared by the function observe()'s drift uses.
   */
  readonly drift?: readonly TuningPath[];
  /**
   * Set only if borrowing changed the socket's class id after all (it is read before and after,
   * when the borrowing joined the target's cgroups first): the class ids before and after.
   */
  readonly relabelled?: { readonly from: number; readonly to: number };
}

export interface InspectOptions {
  /** The tuning the process should hold (every Tuning field, deadPeerTimeout included: expanded as tune() expands it). */
  expect?: Tuning;
  /**
   * Borrow fds even where that re-labels their sockets: pidfd_getfd() moves a socket into the
   * borrowing thread's cgroup v1 net_cls class and net_prio index, for the rest of its life (a
   * traffic-control or firewall policy on the target's class stops matching it). Default false:
   * where the two processes are in different net_cls or net_prio cgroups, the fds are borrowed by a
   * thread that joins the target's cgroups first (root); where that cannot be done (not root, or a
   * hierarchy co-mounted with a resource controller), nothing is borrowed and those rows say
   * `unavailable`.
   */
  allowRelabel?: boolean;
}

/** The socket fds of process `pid`: fd -> inode. Throws SyscallError (EACCES: not ours to read; ESRCH: gone). */
function socketFds(pid: number): Map<number, number> {
  let entries: string[];
  try {
    entries = fs.readdirSync(`/proc/${pid}/fd`);
  } catch (err) {
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
  const sockets = new Map<number, number>();
  for (const entry of entries) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${entry}`));
      if (m) sockets.set(Number(entry), Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return sockets;
}

/**
 * Throws ESRCH unless the process `pidfd` names is still alive as `pid`: the kernel shows a pidfd's
 * process as `Pid: -1` once it has exited, and then /proc/PID may already be another process's.
 */
function checkStillThere(pidfd: number, pid: number): void {
  let alive: boolean;
  try {
    alive = new RegExp(`^Pid:\\s+${pid}$`, 'm').test(fs.readFileSync(`/proc/self/fdinfo/${pidfd}`, 'latin1'));
  } catch {
    alive = false;
  }
  if (!alive) throw syscallError(os().constants.errno.ESRCH, 'pidfd_open', {}, undefined, `process ${pid} exited while it was read`);
}

/**
 * Every TCP socket of process `pid`: what the kernel's diagnostics give, and the tuning read
 * through borrowed copies of its fds; with `options.expect`, each socket's drift from that tuning.
 * Throws SyscallError when the process cannot be read: EACCES from reading /proc/PID/fd and EPERM
 * from pidfd_getfd (both: root or CAP_SYS_PTRACE is needed), EPERM from setns (another network
 * namespace: root), ESRCH (no such process, or it exited meanwhile), ENOSYS (a kernel before 5.6).
 * A pid outside 1..pid_max, or a bad `expect`, is an InvalidArgumentError first.
 */
export function inspectProcess(pid: number, options?: InspectOptions): { connections: InspectedConnection[] } {
  validateInteger(pid, 'pid', 1, pidMax());
  const given = readOptions(options, 'options', ['expect', 'allowRelabel'] as const);
  const plan: Plan | undefined = given.expect === undefined ? undefined : compileTuning(given.expect, 'options.expect');
  const allowRelabel = given.allowRelabel === undefined ? false : validateBoolean(given.allowRelabel, 'options.allowRelabel');
  let pidfd: number;
  try {
    pidfd = openProcess(pid);
  } catch (err) {
    if (err instanceof SyscallError && err.code === 'ESRCH') throw syscallError(os().constants.errno.ESRCH, 'pidfd_open', {}, undefined, `no process ${pid}`);
    throw err;
  }
  try {
    const sockets = socketFds(pid);
    checkStillThere(pidfd, pid);
    const diag = socketsOf(pid);
    // fd -> its socket as the diagnostics list it (UDP, Unix and other sockets are not there).
    const listed = [...sockets].sort((a, b) => a[0] - b[0]).flatMap(([fd, inode]) => (diag.has(inode) ? [[fd, diag.get(inode)!] as const] : []));
    const how = borrowPlan(pid, allowRelabel);
    if (how.kind === 'refused') return { connections: listed.map(([fd, socket]) => ({ fd, ...socket, unavailable: how.reason })) };
    if (how.kind === 'plain') return { connections: listed.flatMap(([fd, socket]) => rowOf(fd, socket, diag, plan, () => borrowFd(pidfd, fd)) ?? []) };
    return { connections: joinedRows(pid, pidfd, listed, diag, plan, how.joins) };
  } finally {
    closeSocket(pidfd);
  }
}

/**
 * The TCP sockets of `pid`'s network namespace by inode: from the kernel's socket diagnostics, or,
 * where a diagnostics socket cannot be opened there (no inet_diag in this kernel, an emulator such
 * as qemu-user, setns refused without CAP_SYS_ADMIN), from /proc/PID/net/tcp{,6}: the rows then get
 * their TCP_INFO through the borrowed copy.
 */
function socketsOf(pid: number): Map<number, DiagSocket> {
  try {
    return diagnose(pid);
  } catch (err) {
    if (!(err instanceof SyscallError && (err.syscall === 'socket' || err.syscall === 'setns'))) throw err;
  }
  const sockets = new Map<number, DiagSocket>();
  for (const [inode, row] of tcpTable(pid)) {
    // A listener's limit is not in /proc: its TCP_INFO holds it (rowOf).
    const { sendQueue, ...rest } = row;
    if (inode !== '0')
      sockets.set(Number(inode), { inode: Number(inode), ...rest, ...(row.state === 'LISTEN' ? {} : { sendQueue }), protocol: 'tcp', source: 'proc' });
  }
  return sockets;
}

/** At most this many copies are open at once when borrowing from a thread that joins cgroups. */
const JOINED_BATCH = 256;

/**
 * The rows of `listed`, each fd borrowed by a thread that first joins the target's cgroups (in
 * batches), then checked: a socket whose class id changed meanwhile says so (`relabelled`).
 * Where the thread cannot join, the rows say why (`unavailable`), as when it is refused.
 */
function joinedRows(
  pid: number,
  pidfd: number,
  listed: (readonly [number, DiagSocket])[],
  diag: Map<number, DiagSocket>,
  plan: Plan | undefined,
  joins: readonly CgroupToJoin[],
): InspectedConnection[] {
  const mount = mountRoot();
  const rows: InspectedConnection[] = [];
  try {
    for (let start = 0; start < listed.length; start += JOINED_BATCH) {
      const batch = listed.slice(start, start + JOINED_BATCH);
      let copies: Int32Array;
      try {
        copies = borrowInCgroups(
          pidfd,
          Int32Array.from(batch, ([fd]) => fd),
          joins,
          mount.path,
        );
      } catch (err) {
        const reason = `not borrowed: ${err instanceof Error ? err.message : String(err)}; pass allowRelabel (--allow-relabel) to borrow anyway, accepting the re-labelling`;
        return listed.map(([fd, socket]) => ({ fd, ...socket, unavailable: reason }));
      }
      // rowOf closes each copy it is handed; when one throws (the process is gone, or refuses), the
      // copies after it, already borrowed, are closed here: none is left open in this process.
      let next = 0;
      try {
        for (; next < batch.length; next++) {
          const [fd, socket] = batch[next]!;
          const copy = copies[next]!;
          const row = rowOf(fd, socket, diag, plan, () => {
            if (copy < 0) throw syscallError(-copy, 'pidfd_getfd');
            return copy;
          });
          if (row) rows.push(row);
        }
      } finally {
        for (let rest = next + 1; rest < batch.length; rest++) if (copies[rest]! >= 0) closeSocket(copies[rest]!);
      }
    }
  } finally {
    mount.remove();
  }
  // Verified, not assumed: each socket's class id is what it was before it was borrowed.
  const after = socketsOf(pid);
  return rows.map((row) => {
    const now = after.get(row.inode)?.classId;
    return now === undefined || now === row.classId ? row : { ...row, relabelled: { from: row.classId!, to: now } };
  });
}

/** Without the diagnostics: TCP_INFO through the copy (and a listener's accept-queue limit from it), where the kernel gives it. */
function tcpInfoOf(copy: number, socket: DiagSocket): Partial<InspectedConnection> {
  let tcpInfo: TcpInfo;
  try {
    tcpInfo = getTcpInfo(copy);
  } catch {
    return {}; // no TCP_INFO here at all (an emulator)
  }
  const limit = socket.state === 'LISTEN' ? tcpInfo.sacked : undefined;
  return { tcpInfo, ...(limit === undefined ? {} : { sendQueue: limit }) };
}

/**
 * The tuning fields the diagnostics already hold (SK_MEMINFO's buffer sizes are sk_rcvbuf and
 * sk_sndbuf, as SO_RCVBUF and SO_SNDBUF read them; the congestion control's name; the mark): not
 * read again through the copy.
 */
function knownFields(socket: DiagSocket): Map<TuningPath, unknown> {
  const known = new Map<TuningPath, unknown>();
  if (socket.memory) {
    known.set('receiveBufferSize', socket.memory.receiveBuffer);
    known.set('sendBufferSize', socket.memory.sendBuffer);
  }
  if (socket.congestion !== undefined) known.set('congestionControl', socket.congestion);
  if (socket.mark !== undefined) known.set('mark', socket.mark);
  return known;
}

/**
 * One socket's row, its tuning read through the copy `borrow()` returns (closed after). The copy's
 * inode decides which socket the row describes: the one the diagnostics listed for that inode (the
 * fd was reused meanwhile: another socket's row, whole), or none (left out: null).
 */
function rowOf(fd: number, listed: DiagSocket, diag: Map<number, DiagSocket>, plan: Plan | undefined, borrow: () => number): InspectedConnection | null {
  let copy = -1;
  try {
    copy = borrow();
    const inode = fs.fstatSync(copy).ino;
    const socket = inode === listed.inode ? listed : diag.get(inode);
    if (!socket) return null;
    const tuning = readTuning(copy, knownFields(socket));
    const drift = plan && socket.state !== 'LISTEN' ? { drift: driftOf(plan, tuning) } : {};
    return { fd, ...socket, ...(socket.source === 'proc' ? tcpInfoOf(copy, socket) : {}), tuning, ...drift };
  } catch (err) {
    // Permission and kernel errors are the whole call's; a socket gone meanwhile is this row's.
    if (err instanceof SyscallError && err.syscall === 'pidfd_getfd' && err.code !== 'EBADF') throw err;
    return { fd, ...listed, error: err instanceof Error ? err.message : String(err) };
  } finally {
    if (copy >= 0) closeSocket(copy);
  }
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
  const wanted = new Map<string, ProcSocket>();
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
