/**
 * Raw access, for any option the kernel has: setsockopt/getsockopt by level and option (numbers,
 * or the constant names this platform defines), and the `hasattr` question. The kernel decides
 * whether a value is acceptable; socket-knobs only checks that it is a C int, a name, a linger or
 * bytes, before the call.
 */
import { constants, getRawBytes, getRawInt, lookup, requireAddon, rowNamed, setRaw, type RawNames } from '../core/syscall';
import { LEVELS, OPTIONS, OPTION_BY_NAME, type ConstantName, type LevelName, type OptionName, type OptionNameOf, type OptionRow } from '../core/table';
import { UnsupportedOptionError } from '../core/errors';
import { fdOf, type Target } from '../node/target';
import { INT32_MAX, INT32_MIN, copyBytes, invalidType, invalidValue, validateInteger } from '../core/validate';
import { readLinger, readName, validateLinger, validateName, writeLinger, writeName, type Linger } from './values';

/** The `hasattr(socket, name)` question: does this platform define the level or option `name`? */
export function isSupported(name: ConstantName | (string & {})): boolean {
  if (typeof name !== 'string') throw invalidType('name', 'of type string', name);
  return Object.hasOwn(constants, name);
}

const MAX_OPTION_BYTES = 65536;

// The names already checked, by kind of argument: the answer for a name never changes, so a call
// by name costs one lookup after the first (setsockopt by name is a per-connection call too).
const checkedNames = { level: new Map<string, number>(), option: new Map<string, number>() };

/** A level or option argument: its number, or a constant name this platform defines. */
function constantArg(value: unknown, argName: 'level' | 'option'): number {
  if (typeof value === 'number') return validateInteger(value, argName, 0, INT32_MAX);
  if (typeof value === 'string') {
    const known = checkedNames[argName].get(value);
    if (known !== undefined) return known;
    const number = checkedConstant(value, argName);
    checkedNames[argName].set(value, number);
    return number;
  }
  requireAddon();
  throw invalidType(argName, 'of type number or string', value);
}

/** The number of the constant `value` names, checked (a level where a level belongs, defined here). */
function checkedConstant(value: string, argName: 'level' | 'option'): number {
  requireAddon(); // without the addon no name is defined: say why, not 'unsupported'
  const isLevelName = (LEVELS as readonly string[]).includes(value);
  if (argName === 'level' && !isLevelName && OPTION_BY_NAME.has(value)) {
    throw invalidValue(argName, `must be a level (${LEVELS.join(', ')}), not an option name`, value);
  }
  if (argName === 'option' && isLevelName) throw invalidValue(argName, 'must be an option, not a level name', value);
  if (!Object.hasOwn(constants, value)) {
    const known = isLevelName || OPTION_BY_NAME.has(value);
    throw new UnsupportedOptionError(value, process.platform, known ? undefined : 'socket-knobs knows no constant of that name');
  }
  return constants[value as ConstantName]!; // (own: checked above)
}

let rowsByNumber: Map<string, OptionRow> | undefined;

/**
 * The table's row for (level, option) as given, by name or by this platform's numbers: a raw read
 * of TCP_CONGESTION as the number 13 is still a name, never four bytes read as an int.
 */
function rowOf(option: unknown, level: number, optionNumber: number): OptionRow | undefined {
  const named = rowNamed(option);
  if (named) return named;
  if (rowsByNumber === undefined) {
    rowsByNumber = new Map();
    for (const r of OPTIONS) {
      const resolved = lookup(r.name);
      if (resolved && !rowsByNumber.has(`${resolved.level}:${resolved.option}`)) rowsByNumber.set(`${resolved.level}:${resolved.option}`, r);
    }
  }
  return rowsByNumber.get(`${level}:${optionNumber}`);
}

/** A (level, option) argument pair checked: its numbers, the table's row, and the names errors show. */
interface CheckedPair {
  readonly level: number;
  readonly option: number;
  readonly row: OptionRow | undefined;
  readonly names: RawNames;
}

// The last pair checked, by the arguments as given: a program setting one option per connection
// asks for the same pair every time, and then pays two comparisons instead of three Map lookups
// and an object (Object.is: -0 is not 0, and only 0 was checked).
let lastLevel: unknown;
let lastOption: unknown;
let lastPair: CheckedPair | undefined;

/** The level and option arguments checked (see constantArg and rowOf). */
function checkedPair(level: unknown, option: unknown): CheckedPair {
  if (lastPair !== undefined && Object.is(level, lastLevel) && Object.is(option, lastOption)) return lastPair;
  const levelNumber = constantArg(level, 'level');
  const optionNumber = constantArg(option, 'option');
  const pair = { level: levelNumber, option: optionNumber, row: rowOf(option, levelNumber, optionNumber), names: { level, option } as RawNames };
  lastLevel = level;
  lastOption = option;
  lastPair = pair;
  return pair;
}

/** A short summary of bytes for an error: never a copy of a large buffer (and safe on a detached one). */
function describeBytes(bytes: Uint8Array): string {
  let shown = '';
  const length = bytes.byteLength;
  for (let i = 0; i < Math.min(length, 16); i++) shown += (bytes[i] ?? 0).toString(16).padStart(2, '0');
  return `<${length} bytes: ${shown}${length > 16 ? '...' : ''}>`;
}

/** A level argument: a level name, or its number. */
export type LevelArg = LevelName | number;
/** An option argument: an option name, or its number. */
export type OptionArg = OptionName | number;

/**
 * setsockopt(fd, level, option, value). `level` and `option` are numbers or constant names
 * (`'IPPROTO_TCP'`, `'TCP_KEEPCNT'`); `value` is an integer (a C int), a boolean (1/0), a name for a
 * string option (`'bbr'` for TCP_CONGESTION), a `Linger` for SO_LINGER, or a Buffer/TypedArray/
 * DataView passed as raw bytes. The kernel decides whether the value is acceptable: a refusal is a
 * SyscallError.
 */
export function setsockopt(target: Target, level: LevelArg, option: OptionNameOf<'string'>, value: string | ArrayBufferView): void;
export function setsockopt(target: Target, level: LevelArg, option: 'SO_LINGER', value: Linger | ArrayBufferView): void;
export function setsockopt(target: Target, level: LevelArg, option: OptionArg, value: number | boolean | ArrayBufferView): void;
export function setsockopt(target: Target, level: LevelArg, option: OptionArg, value: number | boolean | string | Linger | ArrayBufferView): void {
  const { level: levelNumber, option: optionNumber, row: known, names } = checkedPair(level, option);
  if (typeof value === 'boolean' || typeof value === 'number') {
    const int = typeof value === 'boolean' ? (value ? 1 : 0) : validateInteger(value, 'value', INT32_MIN, INT32_MAX);
    setRaw(fdOf(target), levelNumber, optionNumber, int, names, int);
    return;
  }
  if (ArrayBuffer.isView(value)) {
    const bytes = copyBytes(value, 'value', MAX_OPTION_BYTES);
    setRaw(fdOf(target), levelNumber, optionNumber, bytes, names, describeBytes(bytes));
    return;
  }
  // A name or a linger: only for an option of that kind, which then must exist here.
  if (typeof value === 'string' && known?.kind === 'string') {
    const resolved = lookup(known.name as OptionName)!;
    writeName(fdOf(target), resolved, validateName(resolved, value, 'value'));
    return;
  }
  if (value !== null && typeof value === 'object' && known?.kind === 'linger') {
    writeLinger(fdOf(target), validateLinger(value, 'value'));
    return;
  }
  throw invalidType(
    'value',
    `of type number or boolean, or an instance of Buffer, TypedArray or DataView${known?.kind === 'string' ? ', or a name' : known?.kind === 'linger' ? ', or a { enable, seconds } object' : ''}`,
    value,
  );
}

/**
 * getsockopt(fd, level, option). Without `length` the value is read as the option's kind: a C int
 * as a number, a string option (TCP_CONGESTION, SO_BINDTODEVICE) as its name, SO_LINGER as a
 * `Linger`; a struct (TCP_INFO) needs a `length` (or its own function, getTcpInfo()). With
 * `length` (an integer 1..65536), up to that many bytes are read and returned as a Buffer of the
 * length the kernel wrote.
 */
export function getsockopt(target: Target, level: LevelArg, option: OptionNameOf<'string'>): string;
export function getsockopt(target: Target, level: LevelArg, option: 'SO_LINGER'): Linger;
export function getsockopt(target: Target, level: LevelArg, option: OptionNameOf<'int' | 'bool'> | number): number;
export function getsockopt(target: Target, level: LevelArg, option: OptionArg, length: number): Buffer;
export function getsockopt(target: Target, level: LevelArg, option: OptionArg, length?: number): number | string | Linger | Buffer {
  const { level: levelNumber, option: optionNumber, row: known, names } = checkedPair(level, option);
  if (length !== undefined) {
    validateInteger(length, 'length', 1, MAX_OPTION_BYTES);
    const buffer = Buffer.alloc(length);
    const written = getRawBytes(fdOf(target), levelNumber, optionNumber, buffer, names);
    return buffer.subarray(0, written);
  }
  if (known?.kind === 'struct') {
    throw invalidValue('option', `is a struct (${known.name}): read it with ${known.readWith}(), or pass a length for its raw bytes`, known.name);
  }
  if (known?.kind === 'string') return readName(fdOf(target), lookup(known.name as OptionName)!);
  if (known?.kind === 'linger') return readLinger(fdOf(target));
  return getRawInt(fdOf(target), levelNumber, optionNumber, names);
}
