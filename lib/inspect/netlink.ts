/**
 * The socket diagnostics' dump (NETLINK_SOCK_DIAG, `inet_diag`): the requests, and the replies
 * received and kept as they are (lib/inspect/diag.ts decodes them).
 *
 * The netlink socket is opened in the namespace of the process being read (a thread of the addon's
 * joins it with setns and creates the socket: from this namespace a container's sockets are
 * simply absent). The requests are built and the replies checked here; the addon only sends and
 * receives datagrams. Layouts: <linux/netlink.h>, <linux/inet_diag.h> (uapi, stable).
 */
import fs = require('node:fs');
import { closeSocket, openDiagnostics, receiveDiagnostics, sendDiagnostics, syscallError } from '../core/syscall';
import { os } from '../core/builtins';

// <linux/netlink.h>, <linux/sock_diag.h>, <linux/inet_diag.h>
export const NLMSG_HDRLEN = 16;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
export const SOCK_DIAG_BY_FAMILY = 20;
export const AF_INET = 2;
const AF_INET6 = 10;
export const IPPROTO_TCP = 6;
export const IPPROTO_MPTCP = 262; // above a byte: asked for with the INET_DIAG_REQ_PROTOCOL attribute
const INET_DIAG_REQ_PROTOCOL = 3;
const REQUEST_LENGTH = NLMSG_HDRLEN + 56; // struct inet_diag_req_v2
export const MSG_LENGTH = 72; // struct inet_diag_msg
export const ATTR = { MEMINFO: 1, INFO: 2, CONG: 4, TCLASS: 6, SKMEMINFO: 7, MARK: 15, CLASS_ID: 17 } as const;
// The extensions asked for: a bit per attribute (1 << (type - 1)); TCLASS brings CLASS_ID with it.
const EXTENSIONS = (1 << (ATTR.INFO - 1)) | (1 << (ATTR.CONG - 1)) | (1 << (ATTR.TCLASS - 1)) | (1 << (ATTR.SKMEMINFO - 1));
// Every state but TIME_WAIT (6) and NEW_SYN_RECV (12): a socket in those is held by no process (it
// has no inode, nothing to match an fd), and after a burst of connections there can be tens of
// thousands of them: the kernel leaves them out of the dump.
const HELD_STATES = 0xffffffff & ~(1 << 6) & ~(1 << 12);

// One datagram of a dump is received here (the kernel sends at most 32 KiB at a time), and kept as a copy.
const receiving = new Uint8Array(65536);
const receivingView = new DataView(receiving.buffer);

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

/** A datagram of a dump, kept to be decoded once every dump has been received. */
export interface Received {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly protocol: number;
}

/**
 * Every TCP socket of one address family, from an open diagnostics socket: its datagrams, copied
 * into `into` as they arrive (decoded later, by lib/inspect/diag.ts).
 */
function receiveFamily(fd: number, family: number, protocol: number, sequence: number, into: Received[]): void {
  sendDiagnostics(fd, request(family, protocol, sequence));
  for (;;) {
    const length = receiveDiagnostics(fd, receiving);
    const bytes = receiving.slice(0, length);
    into.push({ bytes, view: new DataView(bytes.buffer), protocol });
    const view = receivingView;
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

/** The inode of a network namespace file (/proc/PID/ns/net). */
function namespaceOf(path: string): number | null {
  try {
    return fs.statSync(path).ino;
  } catch {
    return null;
  }
}

/**
 * The dump of every TCP and MPTCP socket (IPv4 and IPv6) of the network namespace process `pid`
 * is in: its datagrams. Another namespace than this process's needs root (setns: CAP_SYS_ADMIN);
 * throws SyscallError.
 */
export function dump(pid: number | 'self'): Received[] {
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
  const received: Received[] = [];
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
  return received;
}
