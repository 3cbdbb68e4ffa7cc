/**
 * probe(): asks the running kernel which known options it accepts. A constant in the headers can
 * still be refused by the kernel underneath (an older kernel, gVisor, WSL1): `isSupported` answers
 * from the headers, `probe` from the kernel.
 */
import { constants as osConstants } from 'node:os';
import { native, requireAddon } from './native';
import { constants } from './core';
import { OPTIONS, type OptionRow } from './table';
import { SyscallError } from './errors';

export interface ProbeResult {
  /** The platform headers define it (what isSupported() says). */
  defined: boolean;
  /** The kernel read it, and (unless read-only) took the same value back, on a fresh socket. */
  accepted: boolean;
  /** Why not, where the kernel refused: negative errno and its name. */
  errno?: number;
  code?: string;
}

type Getter = (fd: number, level: string, option: string, length?: number) => number | Buffer;
type Setter = (fd: number, level: string, option: string, value: number | Buffer) => void;

/** Runs the probe with the raw accessors of index.ts (passed in to keep one implementation of each). */
export function probeWith(getsockopt: Getter, setsockopt: Setter): Record<string, ProbeResult> {
  requireAddon(); // without the addon the kernel cannot be asked: say so, never "nothing accepted"
  const open = (domain: string, type: string): number =>
    constants[domain] === undefined || constants[type] === undefined ? -osConstants.errno.EAFNOSUPPORT : native.openSocket(constants[domain]!, constants[type]!);
  const fds = {
    tcp: open('AF_INET', 'SOCK_STREAM'),
    udp: open('AF_INET', 'SOCK_DGRAM'),
    ipv6: open('AF_INET6', 'SOCK_STREAM'),
  };
  const result: Record<string, ProbeResult> = {};
  try {
    // Only a missing address family is an answer about the kernel (no IPv6 here: the IPv6 rows
    // are not accepted). Anything else (EMFILE, ENFILE, ENOBUFS) means the probe could not ask.
    for (const fd of Object.values(fds)) {
      if (fd < 0 && -fd !== osConstants.errno.EAFNOSUPPORT) {
        throw new SyscallError(-fd, 'socket', {}, 'probe() could not open the sockets it asks the kernel with; nothing was probed');
      }
    }
    for (const row of OPTIONS) result[row.name] = probeOne(row, fds, getsockopt, setsockopt);
  } finally {
    for (const fd of Object.values(fds)) if (fd >= 0) native.closeSocket(fd);
  }
  return result;
}

function probeOne(row: OptionRow, fds: Record<'tcp' | 'udp' | 'ipv6', number>, get: Getter, set: Setter): ProbeResult {
  if (!Object.hasOwn(constants, row.name) || !Object.hasOwn(constants, row.level)) return { defined: false, accepted: false };
  const fd = row.sockets === 'any' ? fds.tcp : fds[row.sockets];
  if (fd < 0) return { defined: true, accepted: false, errno: fd, code: 'EAFNOSUPPORT' }; // no such family here
  try {
    // Structures and names travel as bytes: linger's two ints, a name and its NUL, TCP_INFO's struct.
    const bytes = { linger: 8, string: (row.max ?? 15) + 1, struct: 512 }[row.kind as string];
    const current = bytes === undefined ? get(fd, row.level, row.name) : get(fd, row.level, row.name, bytes);
    if (!row.readOnly) set(fd, row.level, row.name, current);
    return { defined: true, accepted: true };
  } catch (err) {
    if (!(err instanceof SyscallError)) throw err;
    return { defined: true, accepted: false, errno: err.errno, code: err.code };
  }
}
