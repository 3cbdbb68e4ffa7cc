/**
 * socket-knobs: exact kernel socket options for Node.js.
 *
 * Every function takes a target (a connected net.Socket, a listening net.Server, a bound
 * dgram.Socket, or a raw fd), validates all its arguments before the first syscall, and throws a
 * SocketOptionError subclass: InvalidArgumentError, UnsupportedOptionError, SyscallError or
 * SocketStateError.
 */
import { loadError as nativeLoadError, native, nativePath, requireAddon } from './native';
import { LEVELS, OPTION_BY_NAME } from './table';
import { SyscallError, UnsupportedOptionError } from './errors';
import { fdOf, type Target } from './target';
import { KEEPALIVE_FIELDS, allKeepAliveRows, checkKeepAlive, keepAliveRows, readLinger, readName, validateLinger, validateName, writeLinger, writeName, type KeepAlive, type KeepAliveOptions, type Linger } from './values';
import { probeWith, type ProbeResult } from './probe';
import {
  applyQueued,
  bytesWritten,
  checkValue,
  constants,
  getInt,
  getRawBytes,
  getRawInt,
  lookup,
  privilegeReason,
  queue,
  readQueued,
  readValue,
  resolve,
  setInt,
  setRawInt,
} from './core';
import {
  INT32_MAX,
  INT32_MIN,
  invalidType,
  invalidValue,
  ensureOptionsObject,
  unknownField,
  unreadable,
  validateBoolean,
  copyBytes,
  validateInteger,
} from './validate';

export { constants } from './core';
export type { KeepAliveOptions, KeepAlive, Linger } from './values';

export { SocketOptionError, InvalidArgumentError, UnsupportedOptionError, SyscallError, SocketStateError } from './errors';
export type { Target } from './target';
export { OPTIONS, LEVELS, SOCKET_CONSTANTS, type OptionRow } from './table';

/** The `hasattr(socket, name)` question: does this platform define the level or option `name`? */
export function isSupported(name: string): boolean {
  if (typeof name !== 'string') throw invalidType('name', 'of type string', name);
  return Object.hasOwn(constants, name);
}

/** The path of the loaded native addon (a prebuild, or a local build/Release), or null when none could be loaded. */
export function addonPath(): string | null {
  return nativePath();
}

/**
 * Why no native addon could be loaded (no prebuild for this platform, no source build), or null
 * when one was. With no addon, require() still succeeds, `isSupported()` is false for every name,
 * and every call that needs the addon throws ERR_SOCKET_KNOBS_NO_ADDON.
 */
export function loadError(): string | null {
  return nativeLoadError;
}

/** Validates a boolean argument, then sets the boolean option `rowName`. */
function setBool(target: Target, rowName: string, on: unknown, argName: string): void {
  validateBoolean(on, argName);
  setInt(target, resolve(rowName), on ? 1 : 0);
}

/** Validates an integer against the row's range, then sets it. */
function setRanged(target: Target, rowName: string, value: unknown, argName: string): void {
  const option = resolve(rowName);
  setInt(target, option, checkValue(option, value, argName));
}

// ---------------------------------------------------------------------------------------------
// Keepalive: the heart of the package.

/**
 * Sets SO_KEEPALIVE and, where given, TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT, in one call into
 * the addon. Only the fields given are set; `enable` defaults to true. Every value is validated
 * before the first syscall; if the kernel still refuses one, the SyscallError's `applied` lists the
 * options already set.
 *
 * Call it in or after 'connect' (or in a server's 'connection' handler): Node's own
 * `socket.setKeepAlive(true, ms)` sets TCP_KEEPINTVL=1 and TCP_KEEPCNT=10 and so overwrites them.
 */
export function setKeepAlive(target: Target, options?: KeepAliveOptions): void {
  // This is the call a server makes per accepted connection, so it avoids a snapshot object: fields
  // are read once into locals (readOptions' rules).
  let enable: unknown;
  let idle: unknown;
  let interval: unknown;
  let count: unknown;
  if (options !== undefined) {
    ensureOptionsObject(options, 'options');
    // eachField's rules (own enumerable fields, each read once, unknown keys refused), inlined:
    // no closure per call on this path.
    try {
      for (const key in options) {
        if (!Object.hasOwn(options, key)) continue;
        const field = (options as Record<string, unknown>)[key];
        if (key === 'enable') enable = field;
        else if (key === 'idle') idle = field;
        else if (key === 'interval') interval = field;
        else if (key === 'count') count = field;
        else throw unknownField('options', key, KEEPALIVE_FIELDS);
      }
    } catch (err) {
      throw unreadable(err, 'options');
    }
  }
  const rows = keepAliveRows();
  const on = enable === undefined ? true : validateBoolean(enable, 'options.enable');
  // Validate every field (and that the platform has it) before the first syscall.
  if (idle !== undefined) idle = checkKeepAlive(rows, 1, idle, 'options.idle');
  if (interval !== undefined) interval = checkKeepAlive(rows, 2, interval, 'options.interval');
  if (count !== undefined) count = checkKeepAlive(rows, 3, count, 'options.count');
  const fd = fdOf(target);
  queue(0, rows[0], on ? 1 : 0);
  let n = 1;
  if (idle !== undefined) queue(n++, rows[1]!, idle as number);
  if (interval !== undefined) queue(n++, rows[2]!, interval as number);
  if (count !== undefined) queue(n++, rows[3]!, count as number);
  applyQueued(fd, n);
}

/** Reads SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT back from the kernel. */
export function getKeepAlive(target: Target): KeepAlive {
  const rows = allKeepAliveRows();
  const fd = fdOf(target);
  for (let i = 0; i < 4; i++) queue(i, rows[i]!, 0);
  readQueued(fd, 4);
  return { enable: readValue(0) !== 0, idle: readValue(1), interval: readValue(2), count: readValue(3) };
}

// ---------------------------------------------------------------------------------------------
// One documented setter/getter pair per option, each a row of the table (lib/table.ts).

/**
 * SO_REUSEADDR: lets bind() take an address whose old connections are in TIME_WAIT. It matters
 * only before bind(); Node's listening servers already have it (libuv sets it).
 */
export function setReuseAddress(target: Target, on: boolean): void {
  setBool(target, 'SO_REUSEADDR', on, 'on');
}
/** Reads SO_REUSEADDR back from the kernel. */
export function getReuseAddress(target: Target): boolean {
  return getInt(target, 'SO_REUSEADDR') !== 0;
}

/** SO_REUSEPORT: several sockets may bind one address and port; the kernel spreads connections. */
export function setReusePort(target: Target, on: boolean): void {
  setBool(target, 'SO_REUSEPORT', on, 'on');
}
/** Reads SO_REUSEPORT back from the kernel. */
export function getReusePort(target: Target): boolean {
  return getInt(target, 'SO_REUSEPORT') !== 0;
}

/** TCP_NODELAY: send small segments at once (Nagle's algorithm off). */
export function setNoDelay(target: Target, on: boolean): void {
  setBool(target, 'TCP_NODELAY', on, 'on');
}
/** Reads TCP_NODELAY back from the kernel. */
export function getNoDelay(target: Target): boolean {
  return getInt(target, 'TCP_NODELAY') !== 0;
}

/**
 * TCP_USER_TIMEOUT (Linux): how many milliseconds sent data may stay unacknowledged before the
 * kernel drops the connection with ETIMEDOUT. 0 restores the system default.
 */
export function setUserTimeout(target: Target, ms: number): void {
  setRanged(target, 'TCP_USER_TIMEOUT', ms, 'ms');
}
/** Reads TCP_USER_TIMEOUT (milliseconds) back from the kernel. */
export function getUserTimeout(target: Target): number {
  return getInt(target, 'TCP_USER_TIMEOUT');
}

/** SO_RCVBUF in bytes. Linux doubles the value (for its bookkeeping) and reports the doubled size. */
export function setReceiveBufferSize(target: Target, bytes: number): void {
  setRanged(target, 'SO_RCVBUF', bytes, 'bytes');
}
/** Reads SO_RCVBUF back from the kernel (on Linux, twice what was set). */
export function getReceiveBufferSize(target: Target): number {
  return getInt(target, 'SO_RCVBUF');
}

/** SO_SNDBUF in bytes. Linux doubles the value (for its bookkeeping) and reports the doubled size. */
export function setSendBufferSize(target: Target, bytes: number): void {
  setRanged(target, 'SO_SNDBUF', bytes, 'bytes');
}
/** Reads SO_SNDBUF back from the kernel (on Linux, twice what was set). */
export function getSendBufferSize(target: Target): number {
  return getInt(target, 'SO_SNDBUF');
}

/** SO_LINGER: `{ enable: true, seconds: 0 }` makes close() send a reset instead of a FIN. */
export function setLinger(target: Target, linger: Linger): void {
  const value = validateLinger(linger, 'linger');
  writeLinger(fdOf(target), value);
}
/** Reads SO_LINGER back from the kernel. */
export function getLinger(target: Target): Linger {
  resolve('SO_LINGER');
  return readLinger(fdOf(target));
}

/**
 * TCP_CONGESTION (Linux, FreeBSD): the congestion-control algorithm of this connection (or, on a
 * listener, of the connections it accepts). The algorithms available are listed in
 * /proc/sys/net/ipv4/tcp_available_congestion_control; without CAP_NET_ADMIN only those in
 * tcp_allowed_congestion_control may be chosen (EPERM). An unknown name is the kernel's ENOENT.
 */
export function setCongestionControl(target: Target, name: string): void {
  const option = resolve('TCP_CONGESTION');
  const value = validateName(option, name, 'name', false);
  writeName(fdOf(target), option, value);
}
/** Reads TCP_CONGESTION back from the kernel: the algorithm's name, e.g. `'bbr'` or `'cubic'`. */
export function getCongestionControl(target: Target): string {
  const option = resolve('TCP_CONGESTION');
  return readName(fdOf(target), option);
}

// ---------------------------------------------------------------------------------------------
// Raw access, for any option the kernel has.

const MAX_OPTION_BYTES = 65536;

/** A level or option argument: its number, or a constant name this platform defines. */
function constantArg(value: unknown, argName: 'level' | 'option'): number {
  if (typeof value === 'number') return validateInteger(value, argName, 0, INT32_MAX);
  requireAddon(); // without the addon no name is defined: say why, not 'unsupported'
  if (typeof value !== 'string') throw invalidType(argName, 'of type number or string', value);
  const isLevelName = (LEVELS as readonly string[]).includes(value);
  if (argName === 'level' && !isLevelName && OPTION_BY_NAME.has(value)) {
    throw invalidValue(argName, `must be a level (${LEVELS.join(', ')}), not an option name`, value);
  }
  if (argName === 'option' && isLevelName) throw invalidValue(argName, 'must be an option, not a level name', value);
  if (!Object.hasOwn(constants, value)) {
    const known = isLevelName || OPTION_BY_NAME.has(value);
    throw new UnsupportedOptionError(value, process.platform, known ? undefined : 'socket-knobs knows no constant of that name');
  }
  return constants[value]!;
}

/** A short summary of bytes for an error: never a copy of a large buffer (and safe on a detached one). */
function describeBytes(bytes: Uint8Array): string {
  let shown = '';
  const length = bytes.byteLength;
  for (let i = 0; i < Math.min(length, 16); i++) shown += (bytes[i] ?? 0).toString(16).padStart(2, '0');
  return `<${length} bytes: ${shown}${length > 16 ? '...' : ''}>`;
}

/**
 * setsockopt(fd, level, option, value). `level` and `option` are numbers or constant names
 * (`'IPPROTO_TCP'`, `'TCP_KEEPCNT'`); `value` is an integer (a C int), a boolean (1/0), or a
 * Buffer/TypedArray/DataView passed as raw bytes (e.g. a `struct linger`). The kernel decides
 * whether the value is acceptable: a refusal is a SyscallError.
 */
export function setsockopt(
  target: Target,
  level: number | string,
  option: number | string,
  value: number | boolean | ArrayBufferView,
): void {
  const levelNumber = constantArg(level, 'level');
  const optionNumber = constantArg(option, 'option');
  let intValue = 0;
  let bytes: Uint8Array | undefined;
  if (typeof value === 'boolean') intValue = value ? 1 : 0;
  else if (typeof value === 'number') intValue = validateInteger(value, 'value', INT32_MIN, INT32_MAX);
  else if (ArrayBuffer.isView(value)) bytes = copyBytes(value, 'value', MAX_OPTION_BYTES);
  else throw invalidType('value', 'of type number or boolean, or an instance of Buffer, TypedArray or DataView', value);
  const fd = fdOf(target);
  const err = bytes === undefined ? setRawInt(fd, levelNumber, optionNumber, intValue) : native.setBytes(fd, levelNumber, optionNumber, bytes);
  if (err !== 0) {
    // A known option named by the user: an EPERM says what it needs (from its row).
    const known = typeof option === 'string' && OPTION_BY_NAME.has(option) ? lookup(option) : null;
    const reason = known ? privilegeReason(known, err) : undefined;
    throw new SyscallError(err, 'setsockopt', { level, option, value: bytes === undefined ? intValue : describeBytes(bytes) }, reason);
  }
}

/**
 * getsockopt(fd, level, option). Without `length`, reads a C int and returns it as a number. With
 * `length` (an integer 1..65536), reads up to that many bytes and returns a Buffer of the length
 * the kernel wrote.
 */
export function getsockopt(target: Target, level: number | string, option: number | string): number;
export function getsockopt(target: Target, level: number | string, option: number | string, length: number): Buffer;
export function getsockopt(
  target: Target,
  level: number | string,
  option: number | string,
  length?: number,
): number | Buffer {
  const levelNumber = constantArg(level, 'level');
  const optionNumber = constantArg(option, 'option');
  if (length !== undefined) validateInteger(length, 'length', 1, MAX_OPTION_BYTES);
  const fd = fdOf(target);
  if (length === undefined) {
    const err = getRawInt(fd, levelNumber, optionNumber);
    if (err !== 0) throw new SyscallError(err, 'getsockopt', { level, option });
    return readValue(0);
  }
  const buffer = Buffer.alloc(length);
  const err = getRawBytes(fd, levelNumber, optionNumber, buffer);
  if (err !== 0) throw new SyscallError(err, 'getsockopt', { level, option });
  return buffer.subarray(0, bytesWritten());
}

// ---------------------------------------------------------------------------------------------
// Tunings: the knobs set together, on sockets the application holds or only sees through a
// client (lib/tuning.ts, lib/integrate.ts).

export { tune, getTuning, createTuner, type Tuning, type TuningState, type Tuner } from './tuning';
export { tuneOnConnect, tuneAgent, tuneConnector, type Connector } from './integrate';

// The kernel's view of a connection (lib/tcpinfo.ts).
export { getTcpInfo, type TcpInfo } from './tcpinfo';

// ---------------------------------------------------------------------------------------------
// Sockets socket-knobs creates itself, and the kernel probe.

export { listen, createListeningSocket, type ListenOptions } from './listen';
export type { ProbeResult } from './probe';

/**
 * Asks the running kernel which known options it accepts, on fresh TCP, UDP and IPv6 sockets:
 * `{ TCP_KEEPIDLE: { defined: true, accepted: true }, TCP_KEEPALIVE: { defined: false, ... } }`.
 * `isSupported()` stays the header question; this is the kernel question.
 */
export function probe(): Record<string, ProbeResult> {
  return probeWith(getsockopt, setsockopt);
}
