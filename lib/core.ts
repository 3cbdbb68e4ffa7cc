/**
 * The syscall layer shared by every public function: the platform's constants, the table rows as
 * this platform spells them, and one reusable Int32Array that carries a batch of operations into a
 * single N-API crossing (layout in src-native/socket_knobs.cc).
 */
import { native, requireAddon } from './native';
import { OPTION_BY_NAME, type OptionRow } from './table';
import { SyscallError, UnsupportedOptionError } from './errors';
import { fdOf, type Target } from './target';
import { INT32_MAX, INT32_MIN, validateInteger } from './validate';

/**
 * The socket levels and options this platform's headers define, with their numeric values:
 * `constants.TCP_KEEPIDLE === 4` on Linux, and `'TCP_KEEPALIVE' in constants` is false there
 * (it is macOS's name for the same knob).
 */
export const constants: Readonly<Record<string, number>> = Object.freeze({ ...native.constants });

// One reusable Int32Array carries the operations. Module-level, so no call allocates for it; each
// worker thread loads its own copy of this module.

// The largest batch: a whole Tuning's int options (keepalive 4, user timeout, no-delay, two buffer
// sizes, not-sent low watermark, mark, priority).
const MAX_OPS = 12;
const io = new Int32Array(2 + 3 * MAX_OPS);
/** The options queued in `io`, for error messages. */
const queued: Resolved[] = [];

/** An option of the table as this platform spells it, with its numbers and its bounds here. */
export interface Resolved {
  readonly row: OptionRow;
  /** The name the platform defines (the row's name, or its alias: TCP_KEEPALIVE on macOS). */
  readonly name: string;
  readonly level: number;
  readonly option: number;
  /** The range the typed helpers accept on this platform (Linux's kernel limits, say). */
  readonly min: number;
  readonly max: number;
}

const resolvedCache = new Map<string, Resolved | null>();

/** The row `name` as this platform defines it, or null where its headers do not. */
export function lookup(rowName: string): Resolved | null {
  let hit = resolvedCache.get(rowName);
  if (hit === undefined) {
    const row = OPTION_BY_NAME.get(rowName)!;
    const name = Object.hasOwn(constants, row.name) ? row.name : row.alias && Object.hasOwn(constants, row.alias) ? row.alias : '';
    hit =
      name && Object.hasOwn(constants, row.level)
        ? { row, name, level: constants[row.level]!, option: constants[name]!, min: row.min ?? INT32_MIN, max: row.maxOn?.[process.platform] ?? row.max ?? INT32_MAX }
        : null;
    resolvedCache.set(rowName, hit);
  }
  return hit;
}

/** The row `name` as this platform defines it; throws UnsupportedOptionError where it does not. */
export function resolve(rowName: string): Resolved {
  requireAddon(); // without the addon no row is defined: say why, not 'unsupported'
  const hit = lookup(rowName);
  if (hit === null) throw new UnsupportedOptionError(rowName);
  return hit;
}

/** Validates `value` against the option's range on this platform. */
export function checkValue(option: Resolved, value: unknown, argName: string): number {
  return validateInteger(value, argName, option.min, option.max, option.row.unit);
}

export function queue(index: number, option: Resolved, value: number): void {
  const at = 2 + 3 * index;
  io[at] = option.level;
  io[at + 1] = option.option;
  io[at + 2] = value;
  queued[index] = option;
}

const EPERM = 1;

/** For an EPERM from setting `option`: what Linux requires (SO_MARK: CAP_NET_ADMIN or CAP_NET_RAW), from its row. */
export function privilegeReason(option: Resolved, errno: number): string | undefined {
  return Math.abs(errno) === EPERM && option.row.privilege ? `${option.name} needs ${option.row.privilege}` : undefined;
}

/** Applies the `count` queued operations in one crossing; throws SyscallError naming what was applied. */
export function applyQueued(fd: number, count: number): void {
  if (native.setInts(fd, io, count) === 0) return;
  const failed = io[1]!;
  const at = 2 + 3 * failed;
  const applied = count > 1 ? queued.slice(0, failed).map((option) => option.name) : undefined;
  const option = queued[failed]!;
  // EPERM: say what the option needs (SO_MARK: CAP_NET_ADMIN or CAP_NET_RAW), from its row.
  throw new SyscallError(io[0]!, 'setsockopt', { level: option.row.level, option: option.name, value: io[at + 2]!, applied }, privilegeReason(option, io[0]!));
}

/** Reads the `count` queued operations in one crossing; values land in io[4 + 3*i]. */
export function readQueued(fd: number, count: number): void {
  if (native.getInts(fd, io, count) === 0) return;
  const option = queued[io[1]!]!;
  throw new SyscallError(io[0]!, 'getsockopt', { level: option.row.level, option: option.name });
}

export function readValue(index: number): number {
  return io[4 + 3 * index]!;
}

/** Sets one resolved option on `target` (its value already validated). */
export function setInt(target: Target, option: Resolved, value: number): void {
  const fd = fdOf(target);
  queue(0, option, value);
  applyQueued(fd, 1);
}

export function getInt(target: Target, rowName: string): number {
  const option = resolve(rowName);
  const fd = fdOf(target);
  queue(0, option, 0);
  readQueued(fd, 1);
  return readValue(0);
}

// Raw access by number, for setsockopt()/getsockopt(): the same layout, one operation, and the
// errno returned so that the caller names the level and option as the user gave them.

/** setsockopt(fd, level, option, int). Returns errno or 0. */
export function setRawInt(fd: number, level: number, option: number, value: number): number {
  io[2] = level;
  io[3] = option;
  io[4] = value;
  return native.setInts(fd, io, 1);
}

/** getsockopt(fd, level, option) of an int. Returns errno or 0; the value is then readValue(0). */
export function getRawInt(fd: number, level: number, option: number): number {
  io[2] = level;
  io[3] = option;
  io[4] = 0;
  return native.getInts(fd, io, 1);
}

/** getsockopt into `bytes`. Returns errno or 0; the length the kernel wrote is then bytesWritten(). */
export function getRawBytes(fd: number, level: number, option: number, bytes: Uint8Array): number {
  return native.getBytes(fd, level, option, bytes, io);
}

export function bytesWritten(): number {
  return io[1]!;
}
