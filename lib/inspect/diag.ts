/**
 * The kernel's socket diagnostics (NETLINK_SOCK_DIAG, `inet_diag`): what `ss` reads. One dump per
 * address family gives every TCP socket of a network namespace with its state, addresses, inode,
 * owner, queues, TCP_INFO, congestion control, memory and class id, without touching the sockets
 * (nothing is borrowed, so nothing is re-labelled).
 *
 * The netlink socket is opened in the namespace of the process being read (a thread of the addon's
 * joins it with setns and creates the socket: from this namespace a container's sockets are
 * simply absent). The requests and replies are built and decoded here; the addon only sends and
 * receives datagrams. Layouts: <linux/netlink.h>, <linux/inet_diag.h> (uapi, stable).
 */
import fs = require('node:fs');
import { closeSocket, openDiagnostics, receiveDiagnostics, sendDiagnostics, syscallError } from '../core/syscall';
import { os } from '../core/builtins';
import { decodeTcpInfoIn, viewsOf, type TcpInfo } from '../options/tcpinfo';
import { stateName } from '../options/tcpinfo-layout';
import { decodeMptcpInfo, type MptcpInfo } from '../options/mptcp-info';

/** One TCP or Multipath TCP socket as the kernel's diagnostics describe it. */
export interface DiagSocket {
  readonly inode: number;
  /**
   * 'tcp', or 'mptcp' for a Multipath TCP socket: its `mptcpInfo` is the connection's as a whole
   * (struct mptcp_info), and it has no `tcpInfo` (each of its subflows has one, held by the kernel).
   */
  readonly protocol: 'tcp' | 'mptcp';
  readonly mptcpInfo?: MptcpInfo;
  readonly state: string;
  /** `address:port` (IPv6 in brackets; an IPv4-mapped address as Node prints it, `[::ffff:1.2.3.4]`). */
  readonly local: string;
  readonly remote: string;
  /** The owner's uid. */
  readonly uid: number;
  /** A listener: connections waiting in its accept queue. Otherwise: bytes received, not yet read. */
  readonly receiveQueue: number;
  /**
   * A listener: its accept queue's limit (the backlog). Otherwise: bytes sent, not yet acknowledged.
   * (Absent for a listener read without the diagnostics whose TCP_INFO is too short to hold it.)
   */
  readonly sendQueue?: number;
  /**
   * Where the row's fields come from: the kernel's socket diagnostics, or, where they cannot be
   * opened (a kernel without inet_diag, an emulator, setns refused), /proc/PID/net/tcp with
   * TCP_INFO read through the borrowed copy (no memory, class id or mark then).
   */
  readonly source: 'diagnostics' | 'proc';
  /** struct tcp_info, as getTcpInfo() decodes it (the kernel's own length: longer or shorter is fine). */
  readonly tcpInfo?: TcpInfo;
  /** The congestion-control algorithm ('cubic', 'bbr', ...). */
  readonly congestion?: string;
  /** The socket's memory (SK_MEMINFO): bytes allocated and limits, and drops. */
  readonly memory?: SocketMemory;
  /** The cgroup v1 net_cls class id the socket is tagged with (the kernel gives the priority when it has none). */
  readonly classId?: number;
  /** SO_MARK (shown to CAP_NET_ADMIN only). */
  readonly mark?: number;
}

export interface SocketMemory {
  readonly receiveAllocated: number;
  readonly receiveBuffer: number;
  readonly sendAllocated: number;
  readonly sendBuffer: number;
  readonly forwardAllocated: number;
  readonly sendQueued: number;
  readonly optionMemory: number;
  readonly backlog: number;
  readonly drops: number;
}

// <linux/netlink.h>, <linux/sock_diag.h>, <linux/inet_diag.h>
const NLMSG_HDRLEN = 16;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
const SOCK_DIAG_BY_FAMILY = 20;
const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const IPPROTO_MPTCP = 262; // above a byte: asked for with the INET_DIAG_REQ_PROTOCOL attribute
const INET_DIAG_REQ_PROTOCOL = 3;
const REQUEST_LENGTH = NLMSG_HDRLEN + 56; // struct inet_diag_req_v2
const MSG_LENGTH = 72; // struct inet_diag_msg
const ATTR = { MEMINFO: 1, INFO: 2, CONG: 4, TCLASS: 6, SKMEMINFO: 7, MARK: 15, CLASS_ID: 17 } as const;
// The extensions asked for: a bit per attribute (1 << (type - 1)); TCLASS brings CLASS_ID with it.
const EXTENSIONS = (1 << (ATTR.INFO - 1)) | (1 << (ATTR.CONG - 1)) | (1 << (ATTR.TCLASS - 1)) | (1 << (ATTR.SKMEMINFO - 1));
// Every state but TIME_WAIT (6) and NEW_SYN_RECV (12): a socket in those is held by no process (it
// has no inode, nothing to match an fd), and after a burst of connections there can be tens of
// thousands of them: the kernel leaves them out of the dump.
const HELD_STATES = 0xffffffff & ~(1 << 6) & ~(1 << 12);

// One datagram of a dump (the kernel sends at most 32 KiB at a time).
const datagram = new Uint8Array(65536);
const view = new DataView(datagram.buffer);
const datagramViews = viewsOf(datagram);

/** The dump request for one address family's TCP (or MPTCP) sockets, in every state a process's socket can be in. */
function request(family: number, protocol: number, sequence: number): Uint8Array {
  const length = REQUEST_LENGTH + (protocol > 255 ? 8 : 0);
  const bytes = new Uint8Array(length);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, length, true);
  v.setUint16(4, SOCK_DIAG_BY_FAMILY, true);
  v.setUint16(6, NLM_F_REQUEST | NLM_F_DUMP, true);
  v.setUint32(8, sequence, true);
  bytes[NLMSG_HDRLEN] = family;
  bytes[NLMSG_HDRLEN + 1] = protocol > 255 ? 0 : protocol;
  bytes[NLMSG_HDRLEN + 2] = EXTENSIONS;
  v.setUint32(NLMSG_HDRLEN + 4, HELD_STATES >>> 0, true);
  if (protocol > 255) {
    v.setUint16(REQUEST_LENGTH, 8, true);
    v.setUint16(REQUEST_LENGTH + 2, INET_DIAG_REQ_PROTOCOL, true);
    v.setUint32(REQUEST_LENGTH + 4, protocol, true);
  }
  return bytes;
}

/** An IPv6 address's text (RFC 5952: the longest run of zero groups as `::`; IPv4-mapped as Node prints it). */
export function ipv6Text(b: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[at + 2 * i]! << 8) | b[at + 2 * i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${b.subarray(at + 12, at + 16).join('.')}`;
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
}

// Text of the addresses and congestion names seen in this dump: 10,000 sockets share a few of
// each, so each is made once (fewer strings to make and to collect).
const ipv4Texts = new Map<number, string>();
const ipv6Texts = new Map<string, string>();
let lastCongestion = '';
const lastCongestionBytes = new Uint8Array(64);
let lastCongestionSize = -1;

/** `address:port` of an inet_diag_sockid half: the port (big-endian) at `portAt`, the address at `addressAt`. */
function endpoint(family: number, portAt: number, addressAt: number): string {
  const port = view.getUint16(portAt, false);
  let address: string | undefined;
  if (family === AF_INET) {
    const key = view.getUint32(addressAt, false);
    address = ipv4Texts.get(key);
    if (address === undefined) ipv4Texts.set(key, (address = datagram.subarray(addressAt, addressAt + 4).join('.')));
    return `${address}:${port}`;
  }
  const key = `${view.getUint32(addressAt)},${view.getUint32(addressAt + 4)},${view.getUint32(addressAt + 8)},${view.getUint32(addressAt + 12)}`;
  address = ipv6Texts.get(key);
  if (address === undefined) ipv6Texts.set(key, (address = `[${ipv6Text(datagram, addressAt)}]`));
  return `${address}:${port}`;
}

/** A congestion-control name (NUL-terminated) of `size` bytes at `at`: the previous socket's string when the bytes are the same. */
function congestionAt(at: number, size: number): string {
  if (size === lastCongestionSize && size <= lastCongestionBytes.length) {
    let same = true;
    for (let i = 0; i < size && same; i++) same = datagram[at + i] === lastCongestionBytes[i];
    if (same) return lastCongestion;
  }
  lastCongestion = Buffer.from(datagram.buffer, at, size).toString('latin1').replace(/\0.*$/s, '');
  lastCongestionSize = size;
  lastCongestionBytes.set(datagram.subarray(at, at + Math.min(size, lastCongestionBytes.length)));
  return lastCongestion;
}

/** One socket's attributes, reset and refilled for each (decodeAttributes), then put into its object in one literal. */
const found: {
  mptcpInfo?: MptcpInfo;
  tcpInfo?: TcpInfo;
  congestion?: string;
  memory?: SocketMemory;
  classId?: number;
  mark?: number;
} = {};

/** The attributes after an inet_diag_msg (`start` .. `end`), into `found`. */
function decodeAttributes(mptcp: boolean, start: number, end: number): void {
  found.mptcpInfo = found.tcpInfo = found.congestion = found.memory = found.classId = found.mark = undefined;
  for (let at = start; at + 4 <= end;) {
    const length = view.getUint16(at, true);
    const type = view.getUint16(at + 2, true) & 0x3fff;
    if (length < 4 || at + length > end) break;
    const body = at + 4;
    const size = length - 4;
    if (type === ATTR.INFO && size > 0) {
      if (mptcp) found.mptcpInfo = decodeMptcpInfo(datagram, body, size);
      else found.tcpInfo = decodeTcpInfoIn(datagramViews, body, size);
    } else if (type === ATTR.CONG) found.congestion = congestionAt(body, size);
    else if (type === ATTR.SKMEMINFO && size >= 36) found.memory = memoryAt(body);
    else if (type === ATTR.CLASS_ID && size >= 4) found.classId = view.getUint32(body, true);
    else if (type === ATTR.MARK && size >= 4) found.mark = view.getUint32(body, true);
    at += (length + 3) & ~3;
  }
}

function memoryAt(at: number): SocketMemory {
  const u = (i: number): number => view.getUint32(at + 4 * i, true);
  return {
    receiveAllocated: u(0),
    receiveBuffer: u(1),
    sendAllocated: u(2),
    sendBuffer: u(3),
    forwardAllocated: u(4),
    sendQueued: u(5),
    optionMemory: u(6),
    backlog: u(7),
    drops: u(8),
  };
}

/** One inet_diag_msg at `at` (its attributes up to `end`). */
function decodeSocket(at: number, end: number, protocol: number): DiagSocket {
  const family = datagram[at]!;
  const inode = view.getUint32(at + 68, true);
  const state = stateName(datagram[at + 1]!);
  const local = endpoint(family, at + 4, at + 8);
  const remote = endpoint(family, at + 6, at + 24);
  const uid = view.getUint32(at + 64, true);
  const receiveQueue = view.getUint32(at + 56, true);
  const sendQueue = view.getUint32(at + 60, true);
  const source = 'diagnostics';
  decodeAttributes(protocol === IPPROTO_MPTCP, at + MSG_LENGTH, end);
  const { mptcpInfo, tcpInfo, congestion, memory, classId, mark } = found;
  // A TCP socket with every attribute asked for (all but a few): made whole in one literal, its
  // properties in the object itself (no property store added later).
  if (protocol === IPPROTO_TCP && tcpInfo !== undefined && congestion !== undefined && memory !== undefined && classId !== undefined) {
    const protocol = 'tcp';
    return mark === undefined
      ? { inode, protocol, state, local, remote, uid, receiveQueue, sendQueue, source, tcpInfo, congestion, memory, classId }
      : { inode, protocol, state, local, remote, uid, receiveQueue, sendQueue, source, tcpInfo, congestion, memory, classId, mark };
  }
  const socket: Record<string, unknown> = { inode, protocol: protocol === IPPROTO_MPTCP ? 'mptcp' : 'tcp' };
  if (mptcpInfo !== undefined) socket.mptcpInfo = mptcpInfo;
  Object.assign(socket, { state, local, remote, uid, receiveQueue, sendQueue, source });
  for (const [key, value] of Object.entries({ tcpInfo, congestion, memory, classId, mark })) if (value !== undefined) socket[key] = value;
  return socket as unknown as DiagSocket;
}

/** A datagram of a dump, kept to be decoded once every dump has been received. */
interface Received {
  readonly bytes: Uint8Array;
  readonly protocol: number;
}

/**
 * Every TCP socket of one address family, from an open diagnostics socket: its datagrams, copied
 * into `into` as they arrive (decoded later, by decodeReceived).
 */
function receiveFamily(fd: number, family: number, protocol: number, sequence: number, into: Received[]): void {
  sendDiagnostics(fd, request(family, protocol, sequence));
  for (;;) {
    const length = receiveDiagnostics(fd, datagram);
    into.push({ bytes: datagram.slice(0, length), protocol });
    for (let at = 0; at + NLMSG_HDRLEN <= length;) {
      const size = view.getUint32(at, true);
      const type = view.getUint16(at + 4, true);
      if (size < NLMSG_HDRLEN || at + size > length) throw new Error(`socket diagnostics: a malformed reply (message of ${size} bytes at ${at} of ${length})`);
      if (type === NLMSG_DONE) return;
      if (type === NLMSG_ERROR) {
        const errno = -view.getInt32(at + NLMSG_HDRLEN, true);
        // No IPv6 in this kernel or namespace, or no MPTCP: no sockets of that family or protocol.
        if (errno === os().constants.errno.ENOENT && (family === AF_INET6 || protocol === IPPROTO_MPTCP)) return;
        throw syscallError(errno, 'sock_diag');
      }
      at += (size + 3) & ~3;
    }
  }
}

/** The sockets of the datagrams received, by inode (0: not held by a process, left out). */
function decodeReceived(received: readonly Received[], into: Map<number, DiagSocket>): void {
  for (const { bytes, protocol } of received) {
    datagram.set(bytes);
    for (let at = 0; at + NLMSG_HDRLEN <= bytes.length;) {
      const size = view.getUint32(at, true);
      if (view.getUint16(at + 4, true) === SOCK_DIAG_BY_FAMILY && size >= NLMSG_HDRLEN + MSG_LENGTH) {
        const socket = decodeSocket(at + NLMSG_HDRLEN, at + size, protocol);
        if (socket.inode !== 0) into.set(socket.inode, socket);
      }
      at += (size + 3) & ~3;
    }
  }
}

/** The inode of a network namespace file (/proc/PID/ns/net). */
function namespaceOf(path: string): number | null {
  try {
    return fs.statSync(path).ino;
  } catch {
    return null;
  }
}

/**
 * Every TCP and MPTCP socket (IPv4 and IPv6) of the network namespace process `pid` is in, by inode, from the
 * kernel's diagnostics. Another namespace than this process's needs root (setns: CAP_SYS_ADMIN);
 * throws SyscallError. `afterDump` runs once every socket has been received, before they are
 * decoded (the inspector starts its borrowing threads there: what it borrows is never older than
 * the dump, and the decoding overlaps the borrowing).
 */
export function diagnose(pid: number | 'self', afterDump?: () => void): Map<number, DiagSocket> {
  const path = `/proc/${pid}/ns/net`;
  const other = pid !== 'self' && namespaceOf(path) !== namespaceOf('/proc/self/ns/net');
  let nsFd = -1;
  if (other) {
    try {
      nsFd = fs.openSync(path, 'r');
    } catch (err) {
      throw syscallError(
        (err as NodeJS.ErrnoException).code === 'ENOENT' ? os().constants.errno.ESRCH : os().constants.errno.EACCES,
        'open',
        {},
        undefined,
        `open ${path}: reading another process's network namespace needs root`,
      );
    }
  }
  const sockets = new Map<number, DiagSocket>();
  const received: Received[] = [];
  ipv4Texts.clear();
  ipv6Texts.clear();
  let fd = -1;
  try {
    fd = openDiagnostics(nsFd);
    receiveFamily(fd, AF_INET, IPPROTO_TCP, 1, received);
    receiveFamily(fd, AF_INET6, IPPROTO_TCP, 2, received);
    receiveFamily(fd, AF_INET, IPPROTO_MPTCP, 3, received);
    receiveFamily(fd, AF_INET6, IPPROTO_MPTCP, 4, received);
  } finally {
    if (fd >= 0) closeSocket(fd);
    if (nsFd >= 0) fs.closeSync(nsFd);
  }
  afterDump?.();
  decodeReceived(received, sockets);
  return sockets;
}
