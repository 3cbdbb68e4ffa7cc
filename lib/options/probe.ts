/**
 * probe(): asks the running kernel which known options it accepts. A constant in the headers can
 * still be refused by the kernel underneath (an older kernel, gVisor, WSL1): `isSupported` answers
 * from the headers, `probe` from the kernel.
 */
import { os } from '../core/builtins';
import { closeSocket, constants, requireAddon, tryOpenSocket } from '../core/syscall';
import { OPTIONS, type OptionName, type OptionRow, type SocketConstantName } from '../core/table';
import { SyscallError, errnoName } from '../core/errors';
import { getsockopt, setsockopt } from './raw';

export interface ProbeResult {
  /** The platform headers define it (what isSupported() says). */
  defined: boolean;
  /** The kernel read it, and (unless read-only) took the same value back, on a fresh socket. */
  accepted: boolean;
  /** Why not, where the kernel refused: negative errno and its name. */
  errno?: number;
  code?: string;
}

/**
 * Asks the running kernel which known options it accepts, on fresh TCP, UDP and IPv6 sockets:
 * `{ TCP_KEEPIDLE: { defined: true, accepted: true }, TCP_KEEPALIVE: { defined: false, ... } }`.
 * `isSupported()` stays the header question; this is the kernel question.
 */
export function probe(): Record<OptionName, ProbeResult> {
  requireAddon(); // without the addon the kernel cannot be asked: say so, never "nothing accepted"
  const open = (domain: SocketConstantName, type: SocketConstantName): number =>
    constants[domain] === undefined || constants[type] === undefined ? -os().constants.errno.EAFNOSUPPORT : tryOpenSocket(constants[domain]!, constants[type]!);
  const fds = {
    tcp: open('AF_INET', 'SOCK_STREAM'),
    udp: open('AF_INET', 'SOCK_DGRAM'),
    ipv6: open('AF_INET6', 'SOCK_STREAM'),
  };
  const result = {} as Record<OptionName, ProbeResult>;
  try {
    // Only a missing address family is an answer about the kernel (no IPv6 here: the IPv6 rows
    // are not accepted). Anything else (EMFILE, ENFILE, ENOBUFS) means the probe could not ask.
    for (const fd of Object.values(fds)) {
      if (fd < 0 && errnoName(-fd) !== 'EAFNOSUPPORT') {
        throw new SyscallError(-fd, 'socket', {}, 'probe() could not open the sockets it asks the kernel with; nothing was probed');
      }
    }
    for (const row of OPTIONS) result[row.name] = probeOne(row, fds);
  } finally {
    for (const fd of Object.values(fds)) if (fd >= 0) closeSocket(fd);
  }
  return result;
}

function probeOne(row: OptionRow, fds: Record<'tcp' | 'udp' | 'ipv6', number>): ProbeResult {
  if (!Object.hasOwn(constants, row.name) || !Object.hasOwn(constants, row.level)) return { defined: false, accepted: false };
  const fd = row.sockets === 'any' ? fds.tcp : fds[row.sockets];
  if (fd < 0) return { defined: true, accepted: false, errno: fd, code: 'EAFNOSUPPORT' }; // no such family here
  try {
    // Structures and names travel as bytes: linger's two ints, a name and its NUL, TCP_INFO's struct.
    const bytes = row.kind === 'linger' ? 8 : row.kind === 'string' ? row.maxLength + 1 : row.kind === 'struct' ? 512 : 0;
    const current: number | Buffer = bytes === 0 ? getsockopt(fd, row.level, row.name as 'SO_TYPE') : getsockopt(fd, row.level, row.name, bytes);
    if (!('readOnly' in row && row.readOnly)) setsockopt(fd, row.level, row.name as 'SO_TYPE', current);
    return { defined: true, accepted: true };
  } catch (err) {
    if (!(err instanceof SyscallError)) throw err;
    return { defined: true, accepted: false, errno: err.errno, code: err.code };
  }
}
