/**
 * What a Multipath TCP socket takes. The kernel's MPTCP socket accepts only some TCP options (this
 * kernel refuses TCP_SYNCNT, TCP_USER_TIMEOUT, TCP_LINGER2, TCP_WINDOW_CLAMP, TCP_QUICKACK and IP_TTL:
 * ENOPROTOOPT on set, EOPNOTSUPP on get), and which ones changes between kernel versions. So it is
 * probed once per process, on an unconnected MPTCP socket (where the before-bind options are still
 * accepted), and dial()/listen() check a tuning against it with the rest of the validation: a
 * refusal names MPTCP before any socket exists, never a bare ENOPROTOOPT after half the options.
 * What a connected MPTCP socket refuses besides (EINVAL: SO_REUSEADDR, IP_FREEBIND and the other
 * before-bind rows, which plain TCP accepts late) is the table's `refusedConnected` column.
 */
import { UnsupportedOptionError } from '../core/errors';
import { OPTIONS, type OptionName } from '../core/table';

/** Where on the socket's life the options are set: before connect() or listen(), or once connected (a tuning on an accepted socket). */
export type MptcpState = 'unconnected' | 'connected';
import { closeSocket, constants, getIntOption, lookup, setIntOption, tryOpenSocket } from '../core/syscall';

let refused: ReadonlySet<OptionName> | undefined;

/** The int options an unconnected MPTCP socket refuses here (read back, then set to what it read). */
export function mptcpRefuses(): ReadonlySet<OptionName> {
  if (refused) return refused;
  const out = new Set<OptionName>();
  const protocol = constants.IPPROTO_MPTCP;
  const fd = protocol === undefined ? -1 : tryOpenSocket(constants.AF_INET!, constants.SOCK_STREAM!, protocol);
  if (fd < 0) return (refused = out); // no MPTCP here: socket() itself says so, typed (socketError)
  try {
    for (const row of OPTIONS) {
      if ((row.kind !== 'int' && row.kind !== 'bool') || ('readOnly' in row && row.readOnly) || row.sockets === 'ipv6') continue;
      const option = lookup(row.name);
      if (!option) continue;
      try {
        setIntOption(fd, option, getIntOption(fd, option));
      } catch {
        out.add(row.name);
      }
    }
  } finally {
    closeSocket(fd);
  }
  return (refused = out);
}

/** The rows a connected MPTCP socket refuses whatever the kernel (the table's refusedConnected). */
const REFUSED_CONNECTED = new Set(
  OPTIONS.filter((row) => 'refusedConnected' in row && (row.refusedConnected as readonly string[]).includes('mptcp')).map((row) => row.name),
);

/** Throws UnsupportedOptionError naming MPTCP when one of `names`, set on an MPTCP socket in `state`, would be refused. */
export function checkMptcp(names: Iterable<OptionName>, what: string, state: MptcpState): void {
  const refuses = mptcpRefuses();
  for (const name of names) {
    const late = state === 'connected' && REFUSED_CONNECTED.has(name);
    if (refuses.has(name) || late) {
      throw new UnsupportedOptionError(
        name,
        'Multipath TCP',
        late
          ? `${what} would set it on a connected Multipath TCP socket (mptcp: true), which refuses it once connected (EINVAL)`
          : `${what} asks for it on a Multipath TCP socket (mptcp: true), and this kernel's MPTCP sockets refuse it (probed on an unconnected MPTCP socket)`,
      );
    }
  }
}
