/**
 * inspectProcess(): the operator's view of a running process's TCP sockets (Linux): for each, its
 * addresses and state, its TCP_INFO, congestion control, memory and class id, and its tuning as
 * getTuning() reads it. What `ss` cannot show: keepalive interval and count, the user timeout and
 * nodelay of each socket.
 *
 * Everything the kernel's socket diagnostics give comes from them (lib/inspect/diag.ts, read in
 * the process's own network namespace). Only the tuning is read through copies of the fds,
 * borrowed with pidfd_getfd (Linux 5.6+; root or CAP_SYS_PTRACE) on the addon's threads while the
 * dump is decoded, each closed at once (lib/inspect/borrow.ts), and only where borrowing cannot
 * re-label the socket (see allowRelabel). Nothing is set.
 *
 * Every row comes from one socket: the pidfd is opened before /proc/PID/fd is read and checked
 * after (a pid reused meanwhile is not the process asked about), and a row is the diagnostics'
 * socket for the inode of the fd's borrowed copy, with that copy's reads: never mixed.
 */
import fs = require('node:fs');
import { closeSocket, openProcess, syscallError } from './core/syscall';
import { SyscallError } from './core/errors';
import { os } from './core/builtins';
import { validateInteger } from './core/validate';
import { driftOf, type TuningState } from './tuning/readback';
import { compileTuning, type Plan, type Tuning } from './tuning/tuning';
import type { TuningPath } from './core/table';
import { readOptions, validateBoolean } from './core/validate';
import type { DiagSocket, SocketTable } from './inspect/diag';
import { holders, pidMax, tcpTable, type ProcSocket } from './inspect/proc';
import { borrowPlan } from './inspect/cgroups';
import { borrowAll, socketsOf, type Choose } from './inspect/borrow';
import { matches, readListing, Tally, type InspectSummary, type SocketFilter } from './inspect/summary';

export type { SocketMemory } from './inspect/diag';
export type { InspectSummary, SocketFilter, TuningCount } from './inspect/summary';
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

export interface InspectOptions extends SocketFilter {
  /**
   * At most this many rows in `connections` (those of the lowest fds); `summary` still counts every
   * socket the filter matched. Default: every row. A summary of 10,000 sockets with a few rows is
   * read without decoding the others.
   */
  limit?: number;
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

/** The fd numbers of process `pid`, in order. Throws SyscallError (EACCES: not ours to read; ESRCH: gone). */
function fdsOf(pid: number): number[] {
  try {
    return fs
      .readdirSync(`/proc/${pid}/fd`)
      .map(Number)
      .sort((a, b) => a - b);
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
}

/** Of `fds`, the sockets: fd -> inode, from /proc/PID/fd's links (where nothing may be borrowed). */
function socketInodes(pid: number, fds: readonly number[]): Map<number, number> {
  const sockets = new Map<number, number>();
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) sockets.set(fd, Number(m[1]));
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

/** What inspectProcess() returns: the rows (filtered, up to `limit`), and the summary of every socket matched. */
export interface InspectResult {
  readonly connections: InspectedConnection[];
  readonly summary: InspectSummary;
}

/**
 * Every TCP socket of process `pid` (those `options` filters, up to `options.limit` rows, and a
 * summary of all it matched): what the kernel's diagnostics give, and the tuning read through
 * borrowed copies of its fds; with `options.expect`, each socket's drift from that tuning.
 * Throws SyscallError when the process cannot be read: EACCES from reading /proc/PID/fd and EPERM
 * from pidfd_getfd (both: root or CAP_SYS_PTRACE is needed), EPERM from setns (another network
 * namespace: root), ESRCH (no such process, or it exited meanwhile), ENOSYS (a kernel before 5.6).
 * A pid outside 1..pid_max, or a bad option, is an InvalidArgumentError first.
 */
export function inspectProcess(pid: number, options?: InspectOptions): InspectResult {
  validateInteger(pid, 'pid', 1, pidMax());
  const given = readOptions(options, 'options', ['expect', 'allowRelabel', 'state', 'localPort', 'remotePort', 'peer', 'limit'] as const);
  const plan: Plan | undefined = given.expect === undefined ? undefined : compileTuning(given.expect, 'options.expect');
  const allowRelabel = given.allowRelabel === undefined ? false : validateBoolean(given.allowRelabel, 'options.allowRelabel');
  const { filter, limit } = readListing(given);
  let pidfd: number;
  try {
    pidfd = openProcess(pid);
  } catch (err) {
    if (err instanceof SyscallError && err.code === 'ESRCH') throw syscallError(os().constants.errno.ESRCH, 'pidfd_open', {}, undefined, `no process ${pid}`);
    throw err;
  }
  try {
    const fds = fdsOf(pid);
    checkStillThere(pidfd, pid);
    const how = borrowPlan(pid, allowRelabel);
    if (how.kind === 'refused') return unavailableRows(pid, fds, socketsOf(pid, false), how.reason, filter, limit, plan !== undefined);
    // Counted, not made into rows: the sockets past `limit`, where a row adds nothing to the
    // summary (no drift to compare, no class id to check after).
    const labels = how.kind !== 'plain' || how.relabels;
    let chosen = 0;
    const choose: Choose = (brief) => (!matches(filter, brief) ? 'skip' : chosen++ < limit || plan || labels ? 'row' : 'count');
    const tally = new Tally();
    // Every socket a row: decoded at once, while the borrowing threads work.
    const whole = limit === Infinity || plan !== undefined || labels;
    const found = borrowAll(pid, pidfd, fds, how.kind === 'plain' ? [] : how.joins, { choose, tally, whole });
    if ('notBorrowed' in found) return unavailableRows(pid, fds, found.diag, found.notBorrowed, filter, limit, plan !== undefined);
    const rows = found.borrowed.map(({ fd, socket, tuning, error, tcpInfo }): InspectedConnection => {
      if (!tuning) return { fd, ...socket, error };
      const drift = plan && socket.state !== 'LISTEN' ? driftOf(plan, tuning) : undefined;
      if (tcpInfo) {
        // Without the diagnostics, a listener's accept-queue limit is in its TCP_INFO.
        const limit = socket.state === 'LISTEN' && tcpInfo.sacked !== undefined ? { sendQueue: tcpInfo.sacked } : {};
        return { fd, ...socket, tcpInfo, ...limit, tuning, ...(drift ? { drift } : {}) };
      }
      return completed(socket, fd, tuning, drift);
    });
    // Where borrowing could change a class id (joining first should keep it; allowRelabel changes
    // it), a second dump says which did.
    return listed(labels ? checkedLabels(pid, rows) : rows, tally, limit, plan !== undefined, labels, found.found);
  } finally {
    closeSocket(pidfd);
  }
}

/** The result: `rows` in fd order (sockets borrowed again came last), up to `limit`, and the summary of them and of the sockets `tally` counted already. */
function listed(rows: InspectedConnection[], tally: Tally, limit: number, expect: boolean, labels = false, sockets = rows.length): InspectResult {
  rows.sort((a, b) => a.fd - b.fd);
  for (const row of rows) tally.add(row);
  return { connections: rows.length > limit ? rows.slice(0, limit) : rows, summary: tally.summary(sockets, expect, labels) };
}

// The sockets the diagnostics decoded for this call become its rows: made once per call (not
// shared with anything else), each is completed in place (10,000 rows: no second copy of each),
// but a socket an earlier fd already completed (a dup: it has its fd) is copied.

/** `socket` completed as the row of `fd`, with its tuning (and drift). */
function completed(socket: DiagSocket, fd: number, tuning: TuningState, drift: TuningPath[] | undefined): InspectedConnection {
  const row = ('fd' in socket ? { ...socket } : socket) as { -readonly [K in keyof InspectedConnection]: InspectedConnection[K] };
  row.fd = fd;
  row.tuning = tuning;
  if (drift) row.drift = drift;
  return row;
}

/** The rows of the sockets among `fds` that `filter` lists, where nothing is borrowed (`reason`): /proc/PID/fd's links say which fd is which socket. */
function unavailableRows(
  pid: number,
  fds: readonly number[],
  diag: SocketTable,
  reason: string,
  filter: Readonly<SocketFilter>,
  limit: number,
  expect: boolean,
): InspectResult {
  let found = 0;
  const rows = [...socketInodes(pid, fds)].flatMap(([fd, inode]) => {
    const brief = diag.brief(inode);
    if (brief) found++;
    const socket = brief && matches(filter, brief) ? diag.get(inode) : undefined;
    return socket ? [{ fd, ...socket, unavailable: reason }] : [];
  });
  return listed(rows, new Tally(), limit, expect, false, found);
}

/**
 * Verified, not assumed: each socket's class id after it was borrowed (a second dump) is what it
 * was before; a row whose class changed says so (`relabelled`).
 */
function checkedLabels(pid: number, rows: InspectedConnection[]): InspectedConnection[] {
  const after = socketsOf(pid, false);
  return rows.map((row) => {
    const now = after.get(row.inode)?.classId;
    return now === undefined || now === row.classId ? row : { ...row, relabelled: { from: row.classId!, to: now } };
  });
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
