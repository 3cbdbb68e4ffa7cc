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
import { diagnose, type DiagSocket } from './diag';
import { tcpTable } from './proc';
import { mountRoot } from './cgroups';

/**
 * The TCP sockets of `pid`'s network namespace by inode: from the kernel's socket diagnostics, or,
 * where a diagnostics socket cannot be opened there (no inet_diag in this kernel, an emulator such
 * as qemu-user, setns refused without CAP_SYS_ADMIN), from /proc/PID/net/tcp{,6}: the rows then get
 * their TCP_INFO through the borrowed copy. `afterDump` runs once the diagnostics are received, before they are decoded.
 */
export function socketsOf(pid: number, afterDump?: () => void): Map<number, DiagSocket> {
  try {
    return diagnose(pid, afterDump);
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
  return sockets;
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

/** A field of fromDiagnostics(), as `socket`'s diagnostics give it (undefined where they did not). */
function knownValue(socket: DiagSocket, path: TuningPath): unknown {
  if (path === 'receiveBufferSize') return socket.memory?.receiveBuffer;
  if (path === 'sendBufferSize') return socket.memory?.sendBuffer;
  if (path === 'mark') return socket.mark;
  return socket.congestion;
}

/** True if `socket`'s diagnostics give every field `plan` takes from them. */
function givesKnown(socket: DiagSocket, plan: ReadPlan): boolean {
  for (const path of plan.tuning.known) if (knownValue(socket, path) === undefined) return false;
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

/** What borrowAll() found: the sockets, and the rows of those among the fds; or why nothing was borrowed. */
export type BorrowResult =
  { readonly diag: Map<number, DiagSocket>; readonly borrowed: Borrowed[] } | { readonly diag: Map<number, DiagSocket>; readonly notBorrowed: string };

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
export function borrowAll(pid: number, pidfd: number, fds: readonly number[], joins: readonly CgroupToJoin[]): BorrowResult {
  const mount = joins.length > 0 ? mountRoot() : null;
  try {
    const all = Int32Array.from(fds);
    let started: { borrowing: Borrowing; plan: ReadPlan } | undefined;
    const start = (plan: ReadPlan): void => {
      started = { borrowing: startBorrowing(pidfd, all, plan.reads, joins, mount?.path ?? ''), plan };
    };
    let diag: Map<number, DiagSocket>;
    let readings: CopyReadings | string | undefined;
    try {
      // Started once the dump is received, before it is decoded: the copies are read while this
      // thread decodes, and nothing borrowed is older than the dump (nor, when joining, is any
      // socket borrowed before the class ids compared after it were read).
      diag = socketsOf(pid, () => start(readPlan(fromDiagnostics(), false)));
      // Without the diagnostics, everything is read through the copies, TCP_INFO included.
      if (!started) start(readPlan([], true));
    } finally {
      readings = finished(started?.borrowing);
    }
    if (typeof readings === 'string' || readings === undefined) return { diag, notBorrowed: readings ?? 'not borrowed' };
    const borrowed: Borrowed[] = [];
    const again: number[] = [];
    for (let i = 0; i < fds.length; i++) {
      const found = borrowedAt(readings, i, fds[i]!, diag, started!.plan);
      if (found === 'again') again.push(fds[i]!);
      else if (found) borrowed.push(found);
    }
    if (again.length > 0) borrowed.push(...borrowedAgain(pidfd, again, diag, joins, mount?.path ?? ''));
    return { diag, borrowed };
  } finally {
    mount?.remove();
  }
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
function borrowedAgain(pidfd: number, fds: number[], diag: Map<number, DiagSocket>, joins: readonly CgroupToJoin[], mount: string): Borrowed[] {
  const plan = readPlan([], false);
  const readings = finished(startBorrowing(pidfd, Int32Array.from(fds), plan.reads, joins, mount));
  if (typeof readings !== 'object') return [];
  return fds.flatMap((fd, i) => {
    const found = borrowedAt(readings, i, fd, diag, plan);
    return found && found !== 'again' ? [found] : [];
  });
}

/** Fd `i` of a borrowing: its row, none (not a listed TCP socket, or closed meanwhile), or 'again' (read it whole). */
function borrowedAt(readings: CopyReadings, i: number, fd: number, diag: Map<number, DiagSocket>, plan: ReadPlan): Borrowed | 'again' | null {
  const errno = readings.errno(i);
  if (errno !== 0) {
    if (errnoName(errno) === 'EBADF') return null; // closed since /proc/PID/fd was read
    throw borrowError(errno);
  }
  const socket = readings.isSocket(i) ? diag.get(readings.inode(i)) : undefined;
  if (!socket) return null;
  if (!givesKnown(socket, plan)) return 'again';
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
