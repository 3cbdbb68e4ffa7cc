/**
 * The values of options, checked and carried: an int option's range and unit, keepalive's four
 * options resolved once, SO_LINGER's `struct linger`, and the names of string options
 * (TCP_CONGESTION, SO_BINDTODEVICE). Shared by the per-option functions, raw access and tunings.
 */
import { getBytesOption, lookup, resolve, setBytesOption, type Resolved } from '../core/syscall';
import { UnsupportedOptionError } from '../core/errors';
import { invalidType, invalidValue, readOptions, validateBoolean, validateInteger } from '../core/validate';
import { validateTime, type Duration } from '../core/units';

/**
 * Validates `value` for the int option `option` on this platform: its range, and for a time
 * option (seconds, milliseconds, microseconds) also a string with its unit ('45s').
 */
export function checkValue(option: Resolved, value: unknown, argName: string): number {
  const { row } = option;
  const unit = 'unit' in row ? row.unit : undefined;
  if (unit === 'seconds' || unit === 'milliseconds' || unit === 'microseconds') {
    const implausible = row.kind === 'int' ? row.implausible : undefined;
    return validateTime(value, argName, { unit, min: option.min, max: option.max, implausible });
  }
  return validateInteger(value, argName, option.min, option.max, unit);
}

// ---------------------------------------------------------------------------------------------
// Keepalive.

/** Keepalive settings: times in seconds (or a string with its unit, '45s'), as the kernel takes them. */
export interface KeepAliveOptions {
  /** SO_KEEPALIVE. Defaults to true. */
  enable?: boolean;
  /** TCP_KEEPIDLE (TCP_KEEPALIVE on macOS): idle seconds before the first probe. Linux: 1..32767. */
  idle?: Duration;
  /** TCP_KEEPINTVL: seconds between probes. Linux: 1..32767. */
  interval?: Duration;
  /** TCP_KEEPCNT: unanswered probes before the kernel drops the connection. Linux: 1..127. */
  count?: number;
}

/** Keepalive settings as the kernel reports them (seconds). */
export interface KeepAlive {
  enable: boolean;
  idle: number;
  interval: number;
  count: number;
}

export const KEEPALIVE_FIELDS = ['enable', 'idle', 'interval', 'count'] as const;
const KEEPALIVE_TIMINGS = ['TCP_KEEPIDLE', 'TCP_KEEPINTVL', 'TCP_KEEPCNT'] as const;

/** SO_KEEPALIVE, then TCP_KEEPIDLE (or its alias), TCP_KEEPINTVL, TCP_KEEPCNT where defined. */
export type KeepAliveRows = [Resolved, Resolved | null, Resolved | null, Resolved | null];

let keepAliveOptions: KeepAliveRows | undefined;

/** The four keepalive rows, resolved once (SO_KEEPALIVE must exist; the timings may not). */
export function keepAliveRows(): KeepAliveRows {
  keepAliveOptions ??= [resolve('SO_KEEPALIVE'), lookup(KEEPALIVE_TIMINGS[0]), lookup(KEEPALIVE_TIMINGS[1]), lookup(KEEPALIVE_TIMINGS[2])];
  return keepAliveOptions;
}

/** All four rows; throws UnsupportedOptionError naming the first the platform lacks. */
export function allKeepAliveRows(): [Resolved, Resolved, Resolved, Resolved] {
  const rows = keepAliveRows();
  for (let i = 1; i < 4; i++) if (!rows[i]) throw new UnsupportedOptionError(KEEPALIVE_TIMINGS[i - 1]!);
  return rows as [Resolved, Resolved, Resolved, Resolved];
}

/**
 * Validates keepalive field `index` (1 idle, 2 interval, 3 count); `argName` names it in errors
 * ('options.idle'). A constant from the caller: building it here would cost a string per call on
 * setKeepAlive's path.
 */
export function checkKeepAlive(rows: KeepAliveRows, index: 1 | 2 | 3, value: unknown, argName: string): number {
  const option = rows[index];
  if (!option) throw new UnsupportedOptionError(KEEPALIVE_TIMINGS[index - 1]!);
  return checkValue(option, value, argName);
}

// ---------------------------------------------------------------------------------------------
// SO_LINGER.

/** SO_LINGER as `struct linger`. */
export interface Linger {
  /** l_onoff: whether close() lingers (or, with seconds 0, resets the connection). */
  enable: boolean;
  /** l_linger: how long close() may wait for unsent data, in seconds (or '30s'). */
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
  lingerInts[0] = linger.enable ? 1 : 0;
  lingerInts[1] = linger.seconds;
  setBytesOption(fd, resolve('SO_LINGER'), lingerBytes, `{ enable: ${linger.enable}, seconds: ${linger.seconds} }`, applied);
}

/** getsockopt(SO_LINGER). */
export function readLinger(fd: number): Linger {
  lingerInts.fill(0);
  getBytesOption(fd, resolve('SO_LINGER'), lingerBytes);
  return { enable: lingerInts[0] !== 0, seconds: lingerInts[1]! };
}

// ---------------------------------------------------------------------------------------------
// String options (TCP_CONGESTION, SO_BINDTODEVICE): a name of at most the row's maxLength
// characters, sent NUL-terminated. The kernel's names are printable ASCII; anything else is
// refused before the call.

const nameBytes = new Uint8Array(64);

/** The longest name `option` takes (its row's maxLength). */
function maxLength(option: Resolved): number {
  return option.row.kind === 'string' ? option.row.maxLength : 15;
}

/** Validates a name for the string option `option` (its row says whether '' is a value). */
export function validateName(option: Resolved, value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidType(name, 'of type string', value);
  const max = maxLength(option);
  const allowEmpty = option.row.kind === 'string' && option.row.allowEmpty === true;
  if (value.length > max || (!allowEmpty && value.length === 0) || !/^[\x21-\x7e]*$/.test(value)) {
    throw invalidValue(name, `must be ${allowEmpty ? 'empty or ' : ''}a name of 1..${max} printable ASCII characters`, value);
  }
  return value;
}

/** setsockopt of a validated name, NUL-terminated; throws SyscallError (the row's hints said). */
export function writeName(fd: number, option: Resolved, value: string, applied?: string[]): void {
  for (let i = 0; i < value.length; i++) nameBytes[i] = value.charCodeAt(i);
  nameBytes[value.length] = 0;
  setBytesOption(fd, option, nameBytes.subarray(0, value.length + 1), value, applied);
}

/** getsockopt of a name: the bytes up to the first NUL ('' when the kernel returned none). */
export function readName(fd: number, option: Resolved): string {
  nameBytes.fill(0);
  const length = getBytesOption(fd, option, nameBytes.subarray(0, maxLength(option) + 1));
  let text = '';
  for (let i = 0; i < length && nameBytes[i] !== 0; i++) text += String.fromCharCode(nameBytes[i]!);
  return text;
}
