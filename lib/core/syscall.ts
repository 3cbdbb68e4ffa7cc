/**
 * The syscall layer, and the only importer of native.ts: the platform's constants, the table's
 * rows as this platform spells them, one reusable Int32Array that carries a batch of operations
 * into a single N-API crossing, and the one place where an errno becomes a SyscallError.
 *
 * Every function here takes values already validated (lib/core/validate.ts, lib/core/units.ts).
 */
import { BATCH_LAYOUT, loadError, native, nativePath, requireAddon } from './native';
import { OPTIONS, OPTION_BY_NAME, type ConstantName, type OptionName, type OptionRow } from './table';
import { SyscallError, UnsupportedOptionError, errnoName, type SyscallDetails } from './errors';
import { INT32_MAX, INT32_MIN } from './validate';
import { CopyReadings, rowLayout, type CopyRead } from './copy-readings';

export type { CopyRead, CopyReadings } from './copy-readings';

export { requireAddon };

/**
 * The socket levels and options this platform's headers define, with their numeric values:
 * `constants.TCP_KEEPIDLE === 4` on Linux, and `'TCP_KEEPALIVE' in constants` is false there
 * (it is macOS's name for the same knob). Typed by the table's names: a name the table does not know
 * is a compile error, one it knows is `number | undefined` (defined here or not).
 */
export const constants: Readonly<Partial<Record<ConstantName, number>>> = Object.freeze({ ...native.constants });

/** The path of the loaded addon, or null. */
export function addonPath(): string | null {
  return nativePath();
}

/** Why no addon could be loaded, or null. */
export function addonLoadError(): string | null {
  return loadError;
}

// ---------------------------------------------------------------------------------------------
// Rows as this platform spells them.

/** An option of the table as this platform spells it, with its numbers and its bounds here. */
export interface Resolved {
  readonly row: OptionRow;
  /** The name the platform defines (the row's name, or its alias: TCP_KEEPALIVE on macOS). */
  readonly name: string;
  readonly level: number;
  readonly option: number;
  /** The range accepted on this platform (Linux's kernel limits, say); ints only. */
  readonly min: number;
  readonly max: number;
}

const resolvedCache = new Map<string, Resolved | null>();

/** The row `name` as this platform defines it, or null where its headers do not. */
export function lookup(rowName: OptionName): Resolved | null {
  let hit = resolvedCache.get(rowName);
  if (hit === undefined) {
    const row = OPTION_BY_NAME.get(rowName)!;
    const alias = 'alias' in row ? row.alias : undefined;
    const name = Object.hasOwn(constants, row.name) ? row.name : alias && Object.hasOwn(constants, alias) ? alias : '';
    const min = row.kind === 'int' ? (row.min ?? INT32_MIN) : 0;
    const max = row.kind === 'int' ? (row.maxOn?.[process.platform] ?? row.max ?? INT32_MAX) : row.kind === 'linger' ? row.max : INT32_MAX;
    hit = name && Object.hasOwn(constants, row.level) ? { row, name, level: constants[row.level]!, option: constants[name as ConstantName]!, min, max } : null;
    resolvedCache.set(rowName, hit);
  }
  return hit;
}

/** The row `name` as this platform defines it; throws UnsupportedOptionError where it does not. */
export function resolve(rowName: OptionName): Resolved {
  const known = resolvedCache.get(rowName);
  if (known) return known; // (resolved once, so the addon is there)
  requireAddon(); // without the addon no row is defined: say why, not 'unsupported'
  const hit = lookup(rowName);
  if (hit === null) throw new UnsupportedOptionError(rowName);
  return hit;
}

// ---------------------------------------------------------------------------------------------
// Errors: the one place an errno becomes a SyscallError.

/** What the option's row says about an errno: the privilege an EPERM needs, an ENOENT's meaning. */
function reasonFor(row: OptionRow | undefined, errno: number): string | undefined {
  if (!row) return undefined;
  const name = errnoName(errno);
  if (name === 'EPERM' && row.privilege) return `${row.name} needs ${row.privilege}`;
  const hints = 'errnoHints' in row ? (row.errnoHints as Readonly<Record<string, string>>) : undefined;
  return hints?.[name];
}

/** The SyscallError for `errno` from `syscall`; an option's row adds what it knows about the errno. */
export function syscallError(errno: number, syscall: string, details: SyscallDetails = {}, row?: OptionRow, reason?: string): SyscallError {
  return new SyscallError(errno, syscall, details, reason ?? reasonFor(row, errno));
}

/** The row a name given by the user refers to, if it is one the table knows (for raw calls' messages). */
export function rowNamed(name: unknown): OptionRow | undefined {
  return typeof name === 'string' ? OPTION_BY_NAME.get(name) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Batches of int options: one Int32Array, laid out as src-native/socket_knobs.cc reads it.

/** The layout of the batch array shared with the addon (which exports it as `batchLayout`). */
export const BATCH = Object.freeze({
  ...BATCH_LAYOUT,
  /** The largest batch: every int or bool option of the table (a Tuning's or listener's are a subset). */
  MAX_OPS: OPTIONS.filter((r) => r.kind === 'int' || r.kind === 'bool').length,
});

// Module-level, so no call allocates; each worker thread loads its own copy of this module and
// binds its own arrays to its own addon instance, once: the hot calls then pass only ints.
const io = new Int32Array(BATCH.HEADER + BATCH.OP_WIDTH * BATCH.MAX_OPS);
// The addon and the batch layout as this module's own constants: a hot call then loads no property
// of another module's exports object (TypeScript compiles every use of an imported or exported
// binding to one, and those objects are slow to read: they hold getters).
const addon = native;
const { HEADER, OP_WIDTH, LEVEL, OPTION, VALUE, DONE } = BATCH_LAYOUT;
/** Bytes of the structs read often (TCP_INFO: 280 bytes on Linux 6.18), larger than any known. */
export const scratchBytes = new Uint8Array(512);
const binding = addon.bindScratch(io, scratchBytes);
/** The options queued in `io`, for error messages. */
const queued: Resolved[] = [];

function slot(index: number, field: number): number {
  return HEADER + OP_WIDTH * index + field;
}

/** Writes operation `index` (level, option, value) into the batch array. */
function put(index: number, level: number, option: number, value: number): void {
  io[slot(index, LEVEL)] = level;
  io[slot(index, OPTION)] = option;
  io[slot(index, VALUE)] = value;
}

/** Puts operation `index` (its value validated) into the batch. */
export function queue(index: number, option: Resolved, value: number): void {
  put(index, option.level, option.option, value);
  queued[index] = option;
}

/** Applies the `count` queued operations in one crossing; throws SyscallError naming what was applied. */
export function applyQueued(fd: number, count: number): void {
  const result = addon.setInts(binding, fd, count);
  if (result === 0) return;
  const failed = io[DONE]!;
  const option = queued[failed]!;
  const applied = count > 1 ? queued.slice(0, failed).map((o) => o.name) : undefined;
  throw syscallError(-result, 'setsockopt', { level: option.row.level, option: option.name, value: io[slot(failed, VALUE)]!, applied }, option.row);
}

/** Reads the `count` queued operations in one crossing; values are then readValue(i). */
export function readQueued(fd: number, count: number): void {
  const result = addon.getInts(binding, fd, count);
  if (result === 0) return;
  const option = queued[io[DONE]!]!;
  throw syscallError(-result, 'getsockopt', { level: option.row.level, option: option.name }, option.row);
}

/** The value read by operation `index` of the last readQueued(). */
export function readValue(index: number): number {
  return io[slot(index, VALUE)]!;
}

/** setsockopt of one int option (its value validated): the batch's first slot, without the queue. */
export function setIntOption(fd: number, option: Resolved, value: number): void {
  put(0, option.level, option.option, value);
  const result = addon.setInts(binding, fd, 1);
  if (result !== 0) throw syscallError(-result, 'setsockopt', { level: option.row.level, option: option.name, value }, option.row);
}

/** getsockopt of one int option. */
export function getIntOption(fd: number, option: Resolved): number {
  put(0, option.level, option.option, 0);
  const result = addon.getInts(binding, fd, 1);
  if (result !== 0) throw syscallError(-result, 'getsockopt', { level: option.row.level, option: option.name }, option.row);
  return readValue(0);
}

// ---------------------------------------------------------------------------------------------
// Byte-valued options (structs, names).

/** setsockopt with `bytes`; `shown` is the value as an error message shows it. */
export function setBytesOption(fd: number, option: Resolved, bytes: Uint8Array, shown: string, applied?: string[]): void {
  const result = addon.setBytes(fd, option.level, option.option, bytes);
  if (result < 0) throw syscallError(-result, 'setsockopt', { level: option.row.level, option: option.name, value: shown, applied }, option.row);
}

/** getsockopt into `scratchBytes` (read it before the next call); returns the length the kernel wrote. */
export function getScratchOption(fd: number, option: Resolved): number {
  const length = addon.getScratchBytes(binding, fd, option.level, option.option);
  if (length < 0) throw syscallError(-length, 'getsockopt', { level: option.row.level, option: option.name }, option.row);
  return length;
}

/** getsockopt into `bytes`; returns the length the kernel wrote. */
export function getBytesOption(fd: number, option: Resolved, bytes: Uint8Array): number {
  const length = addon.getBytes(fd, option.level, option.option, bytes);
  if (length < 0) throw syscallError(-length, 'getsockopt', { level: option.row.level, option: option.name }, option.row);
  return length;
}

// ---------------------------------------------------------------------------------------------
// Raw access by number: the level and option are named in errors as the user gave them.

/** The level and option as the caller named them, for errors. */
export interface RawNames {
  readonly level: string | number;
  readonly option: string | number;
}

/** setsockopt(fd, level, option, int or bytes); `shown` is the value as errors show it. */
export function setRaw(fd: number, level: number, option: number, value: number | Uint8Array, names: RawNames, shown: string | number): void {
  let result: number;
  if (typeof value === 'number') {
    put(0, level, option, value);
    result = addon.setInts(binding, fd, 1);
  } else {
    result = addon.setBytes(fd, level, option, value);
  }
  if (result < 0) throw syscallError(-result, 'setsockopt', { ...names, value: shown }, rowNamed(names.option));
}

/** getsockopt(fd, level, option) of an int. */
export function getRawInt(fd: number, level: number, option: number, names: RawNames): number {
  put(0, level, option, 0);
  const result = addon.getInts(binding, fd, 1);
  if (result < 0) throw syscallError(-result, 'getsockopt', { ...names }, rowNamed(names.option));
  return readValue(0);
}

/** getsockopt(fd, level, option) into `bytes`; returns the length the kernel wrote. */
export function getRawBytes(fd: number, level: number, option: number, bytes: Uint8Array, names: RawNames): number {
  const length = addon.getBytes(fd, level, option, bytes);
  if (length < 0) throw syscallError(-length, 'getsockopt', { ...names }, rowNamed(names.option));
  return length;
}

// ---------------------------------------------------------------------------------------------
// Sockets socket-knobs creates itself (listeners, dialed connections, the probe).

/** socket(domain, type, protocol), close-on-exec; returns the fd, or -errno (the caller decides what a failure means). */
export function tryOpenSocket(domain: number, type: number, protocol = 0): number {
  return addon.openSocket(domain, type, protocol);
}

/** socket(domain, type, protocol), close-on-exec; throws SyscallError. */
export function openSocket(domain: number, type: number, protocol = 0): number {
  const fd = addon.openSocket(domain, type, protocol);
  if (fd < 0) throw socketError(-fd, protocol);
  return fd;
}

/**
 * The protocol argument of socket() for a stream socket: IPPROTO_MPTCP for Multipath TCP, else 0.
 * Throws UnsupportedOptionError, before any socket exists, where the platform has no MPTCP socket().
 */
export function streamProtocol(mptcp: boolean): number {
  if (!mptcp) return 0;
  if (constants.IPPROTO_MPTCP === undefined) throw new UnsupportedOptionError('IPPROTO_MPTCP', process.platform, 'this platform has no Multipath TCP socket()');
  return constants.IPPROTO_MPTCP;
}

/** What socket() fails with for IPPROTO_MPTCP where the kernel has no Multipath TCP or it is off. */
const MPTCP_UNAVAILABLE = new Set(['EPROTONOSUPPORT', 'ENOPROTOOPT', 'EINVAL', 'EAFNOSUPPORT']);

/** The SyscallError of a failed socket(); for IPPROTO_MPTCP, the errnos of a kernel without it say so. */
export function socketError(errno: number, protocol = 0): SyscallError {
  const mptcpUnavailable = protocol !== 0 && protocol === constants.IPPROTO_MPTCP && MPTCP_UNAVAILABLE.has(errnoName(errno));
  return syscallError(
    errno,
    'socket',
    {},
    undefined,
    mptcpUnavailable ? 'Multipath TCP is not available here: a kernel without it, or net.mptcp.enabled=0 (sysctl)' : undefined,
  );
}

/** bind() to an IP literal; `host` is the address as errors show it. */
export function bindSocket(fd: number, domain: number, address: string, port: number, scopeId: number, host: string): void {
  const result = addon.bindSocket(fd, domain, address, port, scopeId);
  if (result < 0) throw syscallError(-result, 'bind', { address: host, port });
}

/** listen(fd, backlog). */
export function listenSocket(fd: number, backlog: number, host: string, port: number): void {
  const result = addon.listenSocket(fd, backlog);
  if (result < 0) throw syscallError(-result, 'listen', { address: host, port });
}

/** close(fd) of a socket this package opened and nobody else owns yet. */
export function closeSocket(fd: number): void {
  addon.closeSocket(fd);
}

// ---------------------------------------------------------------------------------------------
// Another process's sockets (Linux): a pidfd, and copies of its fds, borrowed one at a time.

/** pidfd_open(pid); throws SyscallError. */
export function openProcess(pid: number): number {
  const fd = addon.pidfdOpen(pid);
  if (fd < 0)
    throw syscallError(-fd, 'pidfd_open', {}, undefined, errnoName(-fd) === 'ENOSYS' ? 'this kernel or platform has no pidfd_open (Linux 5.3+)' : undefined);
  return fd;
}

/** The SyscallError of a pidfd_getfd that failed with `errno`. */
export function borrowError(errno: number): SyscallError {
  const name = errnoName(errno);
  const reason =
    name === 'EPERM'
      ? "reading another process's sockets needs root or CAP_SYS_PTRACE (and ptrace access to that process)"
      : name === 'ENOSYS'
        ? 'this kernel has no pidfd_getfd (Linux 5.6+)'
        : undefined;
  return syscallError(errno, 'pidfd_getfd', {}, undefined, reason);
}

// ---------------------------------------------------------------------------------------------
// The kernel's socket diagnostics (NETLINK_SOCK_DIAG), in any network namespace (Linux).

/** A NETLINK_SOCK_DIAG socket in the namespace `nsFd` names (-1: this process's); throws SyscallError (setns: root). */
export function openDiagnostics(nsFd: number): number {
  const fd = addon.netlinkOpen(nsFd);
  if (fd < 0) {
    const name = errnoName(-fd);
    const reason =
      name === 'EPERM'
        ? "setns: reading another network namespace's sockets needs root (CAP_SYS_ADMIN)"
        : name === 'ENOSYS'
          ? 'socket diagnostics (NETLINK_SOCK_DIAG) are Linux-only'
          : undefined;
    throw syscallError(-fd, nsFd < 0 ? 'socket' : 'setns', {}, undefined, reason);
  }
  return fd;
}

/** Sends one netlink request; throws SyscallError. */
export function sendDiagnostics(fd: number, request: Uint8Array): void {
  const sent = addon.netlinkSend(fd, request);
  if (sent < 0) throw syscallError(-sent, 'sendto');
}

/** Receives one netlink datagram into `into`; its length. Throws SyscallError. */
export function receiveDiagnostics(fd: number, into: Uint8Array): number {
  const got = addon.netlinkReceive(fd, into);
  if (got < 0) throw syscallError(-got, 'recv');
  return got;
}

/** A cgroup v1 hierarchy to join before borrowing: its controllers (mount options) and the cgroup's path in it. */
export interface CgroupToJoin {
  readonly controllers: string;
  readonly path: string;
}

// The steps of joining a cgroup before borrowing, by number: the syscall that failed.
const CGROUP_STEPS = ['', 'unshare', 'mount', 'mount', 'open', 'write', 'mount', 'open', 'write'];

/** A borrowing started by startBorrowing(), its threads running: finish() waits for it. */
export interface Borrowing {
  /** Waits for the threads; what they read. Throws SyscallError where a thread could not join the cgroups. */
  finish(): CopyReadings;
}

/**
 * Starts borrowing each of `fds` of the process `pidfd` names (pidfd_getfd), reading `reads` on
 * each copy that is a socket and closing it, on the addon's threads, and returns at once: the
 * caller may work meanwhile, and must call finish() (in a finally: the arrays are held until then).
 * With `joins` (at most two hierarchies: net_cls and net_prio), each thread first joins those
 * cgroups, each mounted under `mountRoot`/N in that thread's private mount namespace.
 */
export function startBorrowing(pidfd: number, fds: Int32Array, reads: readonly CopyRead[], joins: readonly CgroupToJoin[], mountRoot: string): Borrowing {
  const layout = rowLayout(reads);
  const out = new Int32Array(layout.stride * fds.length);
  const status = new Int32Array(8);
  const triples = Int32Array.from(reads.flatMap(({ option, size }) => [option.level, option.option, size]));
  const where = [0, 1].flatMap((h) => {
    const join = joins[h];
    return join === undefined ? ['', '', ''] : [`${mountRoot}/${h}`, join.controllers, `${mountRoot}/${h}${join.path === '/' ? '' : join.path}/tasks`];
  }) as [string, string, string, string, string, string];
  const result = addon.borrowRead(pidfd, fds, triples, out, layout.stride, status, ...where);
  if (result < 0) throw errnoName(-result) === 'ENOSYS' ? borrowError(-result) : syscallError(-result, 'pthread_create');
  return {
    finish() {
      addon.finishBorrowRead();
      for (let t = 0; t < status.length; t += 2) {
        const step = status[t]!;
        if (step === 0) continue;
        const what = step <= 2 ? 'a private mount namespace' : `the target's ${joins[step > 5 ? 1 : 0]!.controllers} cgroup`;
        throw syscallError(status[t + 1]!, CGROUP_STEPS[step] ?? 'borrowRead', {}, undefined, `joining ${what} before borrowing (root is needed)`);
      }
      return new CopyReadings(out, layout);
    },
  };
}
