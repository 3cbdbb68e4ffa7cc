/**
 * Borrowing another process's fds to read what the socket diagnostics cannot show (keepalive
 * timings, user timeout, nodelay, linger, priority, ...), overlapped with the diagnostics' dump.
 *
 * Every fd of the process is borrowed once (pidfd_getfd), on the addon's threads: the copy's
 * fstat says which socket the fd is *now* (its inode: cheaper than a readlink of /proc/PID/fd/N,
 * and the only answer that cannot go stale), the tuning is read through the copy, and the copy is
 * closed at once. A copy that is not a socket is only fstat-ed and closed. Meanwhile this thread
 * decodes the dump. A row's fields all come from one socket: the diagnostics' row for the copy's
 * inode, and the copy's own reads.
 */
import fs = require('node:fs');
import { borrowError, lookup, scratchBytes, startBorrowing, type Borrowing, type CgroupToJoin, type CopyRead, type CopyReadings } from '../core/syscall';
import { SyscallError, errnoName } from '../core/errors';
import { tuningOfReadings, tuningReads, type TuningReads, type TuningState } from '../tuning/readback';
import type { TuningPath } from '../core/table';
import { decodeTcpInfo, type TcpInfo } from '../options/tcpinfo';
import { diagnose, WholeSockets, type DiagSocket, type SocketBrief, type SocketTable } from './diag';
import { tcpTable } from './proc';
import { mountRoot } from './cgroups';
import type { Tally } from './summary';

/**
 * The TCP sockets of `pid`'s network namespace by inode: from the kernel's socket diagnostics, or,
 * where a diagnostics socket cannot be opened there (no inet_diag in this kernel, an emulator such
 * as qemu-user, setns refused without CAP_SYS_ADMIN), from /proc/PID/net/tcp{,6}: the rows then get
 * their TCP_INFO through the borrowed copy. `afterDump` runs once the diagnostics are received, before they are decoded.
 */
export function socketsOf(pid: number, whole: boolean, afterDump?: () => void): SocketTable {
  try {
    return diagnose(pid, whole, afterDump);
  } catch (err) {
    if (!(err instanceof SyscallError && (err.syscall === 'socket' || err.syscall === 'setns'))) throw err;
  }
  const sockets = new Map<number, DiagSocket>();
  for (const [inode, row] of tcpTable(pid)) {
    // A listener's limit is not in /proc: its TCP_INFO holds it (borrowedRows).
    const { sendQueue, ...rest } = row;
    if (inode !== '0')
      sockets.set(Number(inode), { inode: Number(inode), ...rest, ...(row.state === 'LISTEN' ? {} : { sendQueue }), protocol: 'tcp', source: 'proc' });
  }
  return new WholeSockets(sockets);
}

/**
 * The tuning fields the diagnostics give for a TCP socket (SK_MEMINFO's buffer sizes are sk_rcvbuf
 * and sk_sndbuf, as SO_RCVBUF and SO_SNDBUF read them; the congestion control's name; the mark,
 * shown to CAP_NET_ADMIN only): not read again through the copies. A socket whose diagnostics lack
 * one of them after all is borrowed again and read whole (borrowedAgain).
 */
function fromDiagnostics(): readonly TuningPath[] {
  const buffers = ['receiveBufferSize', 'sendBufferSize', 'congestionControl'] as const;
  return netAdmin() ? [...buffers, 'mark'] : buffers;
}

/** True if this process has CAP_NET_ADMIN (bit 12 of /proc/self/status's CapEff): the diagnostics then show each socket's mark. */
function netAdmin(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'latin1'));
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << 12n)) !== 0n;
  } catch {
    return false;
  }
}

/** True if the diagnostics of the socket `brief` describes give `path` (a field of fromDiagnostics()). */
function gives(brief: SocketBrief, path: TuningPath): boolean {
  if (path === 'receiveBufferSize' || path === 'sendBufferSize') return brief.memory;
  return path === 'mark' ? brief.mark : brief.congestion;
}

/** A field of fromDiagnostics(), as `socket`'s diagnostics give it (undefined where they did not). */
function knownValue(socket: DiagSocket, path: TuningPath): unknown {
  if (path === 'receiveBufferSize') return socket.memory?.receiveBuffer;
  if (path === 'sendBufferSize') return socket.memory?.sendBuffer;
  if (path === 'mark') return socket.mark;
  return socket.congestion;
}

/** True if the diagnostics of the socket `brief` describes give every field `plan` takes from them. */
function givesKnown(brief: SocketBrief, plan: ReadPlan): boolean {
  for (const path of plan.tuning.known) if (!gives(brief, path)) return false;
  return true;
}

/** One TCP socket among the borrowed fds: its fd, its diagnostics row, and its tuning or why not. */
export interface Borrowed {
  readonly fd: number;
  readonly socket: DiagSocket;
  readonly tuning?: TuningState;
  /** Why the tuning could not be read (a getsockopt that failed). */
  readonly error?: string;
  /** Without the diagnostics: TCP_INFO read through the copy (and a listener's queue limit in it). */
  readonly tcpInfo?: TcpInfo;
}

/**
 * What borrowAll() does with each TCP socket among the fds, told by its brief: 'row' (decoded and
 * read whole), 'count' (counted in the tally: a summary of 10,000 sockets needs no 10,000 rows),
 * 'skip' (a filter left it out).
 */
export type Choose = (brief: SocketBrief) => 'row' | 'count' | 'skip';

/** What borrowAll() lists: which sockets become rows (choose), where the others are counted, and whether every socket is decoded at once (whole: most become rows). */
export interface Listing {
  readonly choose: Choose;
  readonly tally: Tally;
  readonly whole: boolean;
}

/** What borrowAll() found: the sockets, the rows of those among the fds, and how many there were; or why nothing was borrowed. */
export type BorrowResult =
  { readonly diag: SocketTable; readonly borrowed: Borrowed[]; readonly found: number } | { readonly diag: SocketTable; readonly notBorrowed: string };

/** The reads of one borrowing: the tuning's, and TCP_INFO's where the diagnostics did not give it. */
interface ReadPlan {
  readonly tuning: TuningReads;
  readonly reads: readonly CopyRead[];
  readonly tcpInfo: boolean;
}

function readPlan(known: readonly TuningPath[], tcpInfo: boolean): ReadPlan {
  const tuning = tuningReads(known);
  const option = tcpInfo ? lookup('TCP_INFO') : null;
  return { tuning, reads: option ? [...tuning.reads, { option, size: scratchBytes.byteLength }] : tuning.reads, tcpInfo: option !== null };
}

/**
 * Every fd of `fds` borrowed and read (by threads that join `joins` first, when given), while the
 * diagnostics of `pid`'s namespace, received first, are decoded here. An fd that is not a TCP socket the
 * diagnostics listed (a file, a UDP socket, one made after the dump) gives no row; neither does one
 * closed meanwhile (EBADF). Any other refusal of pidfd_getfd is the whole call's (thrown); threads
 * that could not join the cgroups mean nothing is used (`notBorrowed`, with the reason).
 */
export function borrowAll(pid: number, pidfd: number, fds: readonly number[], joins: readonly CgroupToJoin[], listing: Listing): BorrowResult {
  const { choose, tally } = listing;
  const mount = joins.length > 0 ? mountRoot() : null;
  try {
    const all = Int32Array.from(fds);
    let started: { borrowing: Borrowing; plan: ReadPlan } | undefined;
    const start = (plan: ReadPlan): void => {
      started = { borrowing: startBorrowing(pidfd, all, plan.reads, joins, mount?.path ?? ''), plan };
    };
    let diag: SocketTable;
    let readings: CopyReadings | string | undefined;
    try {
      // Started once the dump is received, before it is indexed: the copies are read meanwhile,
      // and nothing borrowed is older than the dump (nor, when joining, is any socket borrowed
      // before the class ids compared after it were read).
      diag = socketsOf(pid, listing.whole, () => start(readPlan(fromDiagnostics(), false)));
      // Without the diagnostics, everything is read through the copies, TCP_INFO included.
      if (!started) start(readPlan([], true));
    } finally {
      readings = finished(started?.borrowing);
    }
    if (typeof readings === 'string' || readings === undefined) return { diag, notBorrowed: readings ?? 'not borrowed' };
    const plan = started!.plan;
    const borrowed: Borrowed[] = [];
    const again: number[] = [];
    const counting = countingReads(plan.tuning);
    let found = 0;
    for (let i = 0; i < fds.length; i++) {
      const inode = socketAt(readings, i);
      const brief = inode === null ? undefined : diag.brief(inode);
      if (!brief) continue;
      found++;
      const choice = choose(brief);
      if (choice === 'skip') continue;
      // (A socket read again becomes a row whatever was chosen: they are few, and its count is its row's.)
      if (!givesKnown(brief, plan)) again.push(fds[i]!);
      else if (choice === 'row' || !counted(readings, i, brief.state, counting, tally))
        borrowed.push(borrowedAt(readings, i, fds[i]!, diag.get(inode!)!, plan));
    }
    if (again.length > 0) borrowed.push(...borrowedAgain(pidfd, again, diag, joins, mount?.path ?? ''));
    return { diag, borrowed, found };
  } finally {
    mount?.remove();
  }
}

/** The inode of fd `i`'s copy, if it is a socket; null if not, or closed since /proc/PID/fd was read (EBADF). Throws any other refusal. */
function socketAt(readings: CopyReadings, i: number): number | null {
  const errno = readings.errno(i);
  if (errno !== 0) {
    if (errnoName(errno) === 'EBADF') return null;
    throw borrowError(errno);
  }
  return readings.isSocket(i) ? readings.inode(i) : null;
}

/** The reads a connection's count needs (keepalive, user timeout: -1 where the platform lacks one), and how many reads there are. */
interface CountingReads {
  readonly all: number;
  readonly enable: number;
  readonly idle: number;
  readonly interval: number;
  readonly count: number;
  readonly userTimeout: number;
}

function countingReads(plan: TuningReads): CountingReads {
  const at = (path: TuningPath): number => plan.readOf.get(path) ?? -1;
  const [enable, idle, interval, count, userTimeout] = (
    ['keepAlive.enable', 'keepAlive.idle', 'keepAlive.interval', 'keepAlive.count', 'userTimeout'] as const
  ).map(at) as [number, number, number, number, number];
  return { all: plan.reads.length, enable, idle, interval, count, userTimeout };
}

/**
 * Counts copy `i` (state `state`) in `tally`: a listener as one, a connection by its keepalive
 * and user timeout as its TuningState would have them; when every read of the copy succeeded,
 * else false (its row says what failed).
 */
function counted(readings: CopyReadings, i: number, state: string, reads: CountingReads, tally: Tally): boolean {
  for (let k = 0; k < reads.all; k++) if (readings.length(i, k) < 0) return false;
  if (state === 'LISTEN') {
    tally.add({ state });
    return true;
  }
  const int = (k: number): number | undefined => (k < 0 ? undefined : readings.int(i, k));
  tally.addConnection(
    state,
    reads.enable < 0 ? undefined : readings.int(i, reads.enable) !== 0,
    int(reads.idle),
    int(reads.interval),
    int(reads.count),
    int(reads.userTimeout),
  );
  return true;
}

/** finish() of `borrowing`: its readings, or (where its threads could not join the cgroups) why nothing was borrowed. */
function finished(borrowing: Borrowing | undefined): CopyReadings | string | undefined {
  try {
    return borrowing?.finish();
  } catch (err) {
    if (!(err instanceof SyscallError)) throw err;
    return `not borrowed: ${err.message}; pass allowRelabel (--allow-relabel) to borrow anyway, accepting the re-labelling`;
  }
}

/**
 * The sockets whose diagnostics lacked a field taken from them (a Multipath TCP socket may have
 * no congestion control of its own there): borrowed again, every field read through the copy.
 */
function borrowedAgain(pidfd: number, fds: number[], diag: SocketTable, joins: readonly CgroupToJoin[], mount: string): Borrowed[] {
  const plan = readPlan([], false);
  const readings = finished(startBorrowing(pidfd, Int32Array.from(fds), plan.reads, joins, mount));
  if (typeof readings !== 'object') return [];
  return fds.flatMap((fd, i) => {
    const inode = socketAt(readings, i);
    const socket = inode === null ? undefined : diag.get(inode);
    return socket ? [borrowedAt(readings, i, fd, socket, plan)] : [];
  });
}

/** Copy `i` of a borrowing, of `socket`: its row, with its tuning or why it could not be read. */
function borrowedAt(readings: CopyReadings, i: number, fd: number, socket: DiagSocket, plan: ReadPlan): Borrowed {
  let tuning: TuningState;
  try {
    tuning = tuningOfReadings(readings, i, plan.tuning, (path) => knownValue(socket, path));
  } catch (err) {
    return { fd, socket, error: err instanceof Error ? err.message : String(err) };
  }
  if (!plan.tcpInfo) return { fd, socket, tuning };
  const k = plan.reads.length - 1;
  const length = readings.length(i, k);
  // No TCP_INFO at all here (an emulator): the row goes without.
  return length > 0 ? { fd, socket, tuning, tcpInfo: decodeTcpInfo(readings.data(i, k), length) } : { fd, socket, tuning };
}
