/**
 * The structured values shared by the per-option functions (index.ts) and tunings (tuning.ts):
 * keepalive's four options, resolved once, and SO_LINGER's `struct linger`.
 */
import { native } from './native';
import { checkValue, getRawBytes, lookup, privilegeReason, resolve, type Resolved } from './core';
import { SyscallError, UnsupportedOptionError } from './errors';
import { invalidType, invalidValue, readOptions, validateBoolean } from './validate';

/** Keepalive settings, in seconds as the kernel and Python's socket module take them. */
export interface KeepAliveOptions {
  /** SO_KEEPALIVE. Defaults to true. */
  enable?: boolean;
  /** TCP_KEEPIDLE (TCP_KEEPALIVE on macOS): idle seconds before the first probe. Linux: 1..32767. */
  idle?: number;
  /** TCP_KEEPINTVL: seconds between probes. Linux: 1..32767. */
  interval?: number;
  /** TCP_KEEPCNT: unanswered probes before the kernel drops the connection. Linux: 1..127. */
  count?: number;
}

/** Keepalive settings as the kernel reports them. */
export interface KeepAlive {
  enable: boolean;
  idle: number;
  interval: number;
  count: number;
}

export const KEEPALIVE_FIELDS = ['enable', 'idle', 'interval', 'count'] as const;
const KEEPALIVE_ROWS = ['TCP_KEEPIDLE', 'TCP_KEEPINTVL', 'TCP_KEEPCNT'] as const;

export type KeepAliveRows = [Resolved, Resolved | null, Resolved | null, Resolved | null];

/** SO_KEEPALIVE, TCP_KEEPIDLE (or its alias), TCP_KEEPINTVL, TCP_KEEPCNT, resolved once. */
let keepAliveOptions: KeepAliveRows | undefined;

export function keepAliveRows(): KeepAliveRows {
  keepAliveOptions ??= [resolve('SO_KEEPALIVE'), lookup(KEEPALIVE_ROWS[0]), lookup(KEEPALIVE_ROWS[1]), lookup(KEEPALIVE_ROWS[2])];
  return keepAliveOptions;
}

/** All four rows; throws UnsupportedOptionError naming the first the platform lacks. */
export function allKeepAliveRows(): [Resolved, Resolved, Resolved, Resolved] {
  const rows = keepAliveRows();
  for (let i = 1; i < 4; i++) if (!rows[i]) throw new UnsupportedOptionError(KEEPALIVE_ROWS[i - 1]!);
  return rows as [Resolved, Resolved, Resolved, Resolved];
}

/**
 * Validates keepalive field `index` (1 idle, 2 interval, 3 count); `argName` names it in errors
 * ('options.idle'). A constant from the caller: building it here would cost a string per call on
 * setKeepAlive's path.
 */
export function checkKeepAlive(rows: KeepAliveRows, index: 1 | 2 | 3, value: unknown, argName: string): number {
  const option = rows[index];
  if (!option) throw new UnsupportedOptionError(KEEPALIVE_ROWS[index - 1]);
  return checkValue(option, value, argName);
}

/** SO_LINGER as `struct linger`. */
export interface Linger {
  /** l_onoff: whether close() lingers (or, with seconds 0, resets the connection). */
  enable: boolean;
  /** l_linger: how long close() may wait for unsent data, in seconds. */
  seconds: number;
}

/** A linger argument, validated: `enable` required, `seconds` 0 unless given. */
export function validateLinger(value: unknown, name: string): Linger {
  const given = readOptions(value, name, ['enable', 'seconds'] as const);
  const enable = validateBoolean(given.enable, `${name}.enable`);
  const seconds = given.seconds === undefined ? 0 : checkValue(resolve('SO_LINGER'), given.seconds, `${name}.seconds`);
  return { enable, seconds };
}

// struct linger is two C ints on every platform socket-knobs reaches with an fd.
const lingerInts = new Int32Array(2);
const lingerBytes = new Uint8Array(lingerInts.buffer);

/** setsockopt(SO_LINGER); throws SyscallError (with `applied`, when part of a larger call). */
export function writeLinger(fd: number, linger: Linger, applied?: string[]): void {
  const option = resolve('SO_LINGER');
  lingerInts[0] = linger.enable ? 1 : 0;
  lingerInts[1] = linger.seconds;
  const err = native.setBytes(fd, option.level, option.option, lingerBytes);
  if (err !== 0) {
    throw new SyscallError(err, 'setsockopt', { level: option.row.level, option: option.name, value: `{ enable: ${linger.enable}, seconds: ${linger.seconds} }`, applied });
  }
}

/** getsockopt(SO_LINGER). */
export function readLinger(fd: number): Linger {
  const option = resolve('SO_LINGER');
  lingerInts.fill(0);
  const err = getRawBytes(fd, option.level, option.option, lingerBytes);
  if (err !== 0) throw new SyscallError(err, 'getsockopt', { level: option.row.level, option: option.name });
  return { enable: lingerInts[0] !== 0, seconds: lingerInts[1]! };
}

// String options (TCP_CONGESTION, SO_BINDTODEVICE): a name of at most row.max characters, sent
// NUL-terminated. The kernel's names are printable ASCII; anything else is refused before the call.
const nameBytes = new Uint8Array(64);
const ENOENT = 2;

/** Validates a name for the string option `option`; `allowEmpty` for SO_BINDTODEVICE's unbind. */
export function validateName(option: Resolved, value: unknown, name: string, allowEmpty: boolean): string {
  if (typeof value !== 'string') throw invalidType(name, 'of type string', value);
  const max = option.row.max ?? 15;
  if (value.length > max || (!allowEmpty && value.length === 0) || !/^[\x21-\x7e]*$/.test(value)) {
    throw invalidValue(name, `must be ${allowEmpty ? 'empty or ' : ''}a name of 1..${max} printable ASCII characters`, value);
  }
  return value;
}

/** setsockopt of a validated name, NUL-terminated; throws SyscallError (privilege said on EPERM). */
export function writeName(fd: number, option: Resolved, value: string, applied?: string[]): void {
  for (let i = 0; i < value.length; i++) nameBytes[i] = value.charCodeAt(i);
  nameBytes[value.length] = 0;
  const err = native.setBytes(fd, option.level, option.option, nameBytes.subarray(0, value.length + 1));
  if (err !== 0) {
    const unknownAlgorithm = option.row.name === 'TCP_CONGESTION' && Math.abs(err) === ENOENT;
    const reason = unknownAlgorithm ? 'no such algorithm here (see /proc/sys/net/ipv4/tcp_available_congestion_control)' : privilegeReason(option, err);
    throw new SyscallError(err, 'setsockopt', { level: option.row.level, option: option.name, value, applied }, reason);
  }
}

/** getsockopt of a name: the bytes up to the first NUL ('' when the kernel returned none). */
export function readName(fd: number, option: Resolved): string {
  nameBytes.fill(0);
  const err = getRawBytes(fd, option.level, option.option, nameBytes.subarray(0, (option.row.max ?? 15) + 1));
  if (err !== 0) throw new SyscallError(err, 'getsockopt', { level: option.row.level, option: option.name });
  let text = '';
  for (let i = 0; i < nameBytes.length && nameBytes[i] !== 0; i++) text += String.fromCharCode(nameBytes[i]!);
  return text;
}
