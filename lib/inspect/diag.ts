/**
 * The kernel's socket diagnostics (NETLINK_SOCK_DIAG, `inet_diag`): what `ss` reads. One dump per
 * address family gives every TCP socket of a network namespace with its state, addresses, inode,
 * owner, queues, TCP_INFO, congestion control, memory and class id, without touching the sockets
 * (nothing is borrowed, so nothing is re-labelled).
 *
 * The dump is received by lib/inspect/netlink.ts, in the namespace of the process being read; the
 * replies are decoded here. Layouts: <linux/inet_diag.h> (uapi, stable).
 */
import { decodeTcpInfoIn, viewsOf, type TcpInfo } from '../options/tcpinfo';
import { stateName } from '../options/tcpinfo-layout';
import { decodeMptcpInfo, type MptcpInfo } from '../options/mptcp-info';
import { AF_INET, ATTR, dump, IPPROTO_MPTCP, IPPROTO_TCP, MSG_LENGTH, NLMSG_HDRLEN, SOCK_DIAG_BY_FAMILY, type Received } from './netlink';

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

// The kept datagram being decoded (select()): the decoders below read it through these.
let datagram: Uint8Array = new Uint8Array(0);
let view: DataView = new DataView(datagram.buffer);
let datagramViews = viewsOf(datagram);

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

/**
 * The rtattr walk, one for briefAt() and decodeAttributes(), so a brief never promises what the
 * decode then finds unusable: the body size of the attribute at `at` (before `end`), or -1 where
 * the walk ends (no room for a header, a length short of one or past `end`).
 */
function attributeSize(at: number, end: number): number {
  if (at + 4 > end) return -1;
  const length = view.getUint16(at, true);
  return length < 4 || at + length > end ? -1 : length - 4;
}

const attributeType = (at: number): number => view.getUint16(at + 2, true) & 0x3fff;
const nextAttribute = (at: number): number => at + ((view.getUint16(at, true) + 3) & ~3);

/** Whether an attribute of `type` with a body of `size` bytes is one the decode reads. */
function usable(type: number, size: number): boolean {
  if (type === ATTR.INFO) return size > 0;
  if (type === ATTR.CONG) return true;
  if (type === ATTR.SKMEMINFO) return size >= 36;
  return (type === ATTR.CLASS_ID || type === ATTR.MARK) && size >= 4;
}

/** The attributes after an inet_diag_msg (`start` .. `end`), into `found`. */
function decodeAttributes(mptcp: boolean, start: number, end: number): void {
  found.mptcpInfo = found.tcpInfo = found.congestion = found.memory = found.classId = found.mark = undefined;
  for (let at = start, size = attributeSize(at, end); size >= 0; at = nextAttribute(at), size = attributeSize(at, end)) {
    const type = attributeType(at);
    if (!usable(type, size)) continue;
    const body = at + 4;
    if (type === ATTR.INFO) {
      if (mptcp) found.mptcpInfo = decodeMptcpInfo(datagram, body, size);
      else found.tcpInfo = decodeTcpInfoIn(datagramViews, body, size);
    } else if (type === ATTR.CONG) found.congestion = congestionAt(body, size);
    else if (type === ATTR.SKMEMINFO) found.memory = memoryAt(body);
    else if (type === ATTR.CLASS_ID) found.classId = view.getUint32(body, true);
    else found.mark = view.getUint32(body, true);
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

let selected: Received | undefined;

/** Makes `received` the datagram the decoders read. */
function select(received: Received): void {
  if (selected === received) return;
  selected = received;
  datagram = received.bytes;
  view = received.view;
  datagramViews = viewsOf(received.bytes);
}

/** What a filter, a summary and the borrowing's plan need of a socket, read without decoding it. */
export interface SocketBrief {
  readonly state: string;
  readonly local: string;
  readonly remote: string;
  /** Which of the fields the borrowing may take from the diagnostics they give (see lib/inspect/borrow.ts). */
  readonly memory: boolean;
  readonly congestion: boolean;
  readonly mark: boolean;
}

/**
 * The TCP sockets of a network namespace by inode. A socket is decoded at its first get(): an
 * operator asking for a summary and 50 rows of 10,000 sockets needs only their briefs.
 */
export interface SocketTable {
  get(inode: number): DiagSocket | undefined;
  brief(inode: number): SocketBrief | undefined;
}

/** The brief of a socket already decoded. */
function briefOf(s: DiagSocket): SocketBrief {
  return {
    state: s.state,
    local: s.local,
    remote: s.remote,
    memory: s.memory !== undefined,
    congestion: s.congestion !== undefined,
    mark: s.mark !== undefined,
  };
}

/** A table of sockets already whole (those of /proc/PID/net/tcp). */
export class WholeSockets implements SocketTable {
  constructor(private readonly sockets: ReadonlyMap<number, DiagSocket>) {}

  get(inode: number): DiagSocket | undefined {
    return this.sockets.get(inode);
  }

  brief(inode: number): SocketBrief | undefined {
    const s = this.sockets.get(inode);
    return s && briefOf(s);
  }
}

/** The brief of the inet_diag_msg at `at` (its attributes up to `end`) of the selected datagram. */
function briefAt(at: number, end: number): SocketBrief {
  const family = datagram[at]!;
  let memory = false;
  let congestion = false;
  let mark = false;
  for (let a = at + MSG_LENGTH, size = attributeSize(a, end); size >= 0; a = nextAttribute(a), size = attributeSize(a, end)) {
    const type = attributeType(a);
    if (!usable(type, size)) continue;
    if (type === ATTR.SKMEMINFO) memory = true;
    else if (type === ATTR.CONG) congestion = true;
    else if (type === ATTR.MARK) mark = true;
  }
  return { state: stateName(datagram[at + 1]!), local: endpoint(family, at + 4, at + 8), remote: endpoint(family, at + 6, at + 24), memory, congestion, mark };
}

/**
 * The sockets of the datagrams received: indexed by inode (0: not held by a process, left out),
 * each briefed at once (while the borrowing threads work) and decoded whole on first use.
 */
class DiagSockets implements SocketTable {
  private readonly slots = new Map<number, number>();
  /** Per slot: the datagram's index in `received`, and the inet_diag_msg's start and end in it. */
  private readonly places: number[] = [];
  private readonly briefs: SocketBrief[] = [];
  private readonly decoded: (DiagSocket | undefined)[] = [];

  /** With `whole`, every socket is decoded at once (a caller that lists them all: while the borrowing threads work). */
  constructor(
    private readonly received: readonly Received[],
    whole: boolean,
  ) {
    for (let r = 0; r < received.length; r++) {
      select(received[r]!);
      for (let at = 0; at + NLMSG_HDRLEN <= datagram.length;) {
        const size = view.getUint32(at, true);
        if (view.getUint16(at + 4, true) === SOCK_DIAG_BY_FAMILY && size >= NLMSG_HDRLEN + MSG_LENGTH) {
          const inode = view.getUint32(at + NLMSG_HDRLEN + 68, true);
          if (inode !== 0) {
            this.slots.set(inode, this.briefs.length);
            this.places.push(r, at + NLMSG_HDRLEN, at + size);
            if (whole) {
              const socket = decodeSocket(at + NLMSG_HDRLEN, at + size, received[r]!.protocol);
              this.decoded.push(socket);
              this.briefs.push(briefOf(socket));
            } else this.briefs.push(briefAt(at + NLMSG_HDRLEN, at + size));
          }
        }
        at += (size + 3) & ~3;
      }
    }
  }

  get(inode: number): DiagSocket | undefined {
    const slot = this.slots.get(inode);
    if (slot === undefined) return undefined;
    let socket = this.decoded[slot];
    if (socket === undefined) {
      const at = this.place(slot);
      socket = this.decoded[slot] = decodeSocket(at, this.places[3 * slot + 2]!, selected!.protocol);
    }
    return socket;
  }

  brief(inode: number): SocketBrief | undefined {
    const slot = this.slots.get(inode);
    return slot === undefined ? undefined : this.briefs[slot];
  }

  /** Selects slot's datagram; its inet_diag_msg's start. */
  private place(slot: number): number {
    select(this.received[this.places[3 * slot]!]!);
    return this.places[3 * slot + 1]!;
  }
}

/**
 * Every TCP and MPTCP socket (IPv4 and IPv6) of the network namespace process `pid` is in, by inode, from the
 * kernel's diagnostics. Another namespace than this process's needs root (setns: CAP_SYS_ADMIN);
 * throws SyscallError. `afterDump` runs once every socket has been received, before they are
 * indexed (the inspector starts its borrowing threads there: what it borrows is never older than
 * the dump). With `whole`, every socket is decoded then; else each at its first get().
 */
export function diagnose(pid: number | 'self', whole: boolean, afterDump?: () => void): SocketTable {
  const received = dump(pid);
  ipv4Texts.clear();
  ipv6Texts.clear();
  selected = undefined;
  afterDump?.();
  return new DiagSockets(received, whole);
}
