/**
 * Reading a tuning back from the kernel: every Tuning field in the same shape and the kernel's units
 * (getTuning), what differs from an intended plan (driftOf, observe's drift and the CLI's --expect),
 * and what a listener holds, to put back or compare with (snapshotPlan).
 */
import { lookup, queue, readQueued, readValue, requireAddon, syscallError, type CopyRead, type CopyReadings, type Resolved } from '../core/syscall';
import { TUNING_ROWS, reportedValue, type SameNames, type TuningField, type TuningPath } from '../core/table';
import { SyscallError, errnoName } from '../core/errors';
import { fdOf, type Target } from '../node/target';
import { readLinger, readName, type KeepAlive, type Linger } from '../options/values';
import type { Plan, PlannedField } from './tuning';

/**
 * Every field of a Tuning as the kernel reports it (times in the kernel's units: keepalive in
 * seconds, userTimeout in milliseconds). A field is absent where the platform lacks its option, or
 * where the socket is not TCP (a UDP or Unix socket has only the socket-level fields).
 */
export interface TuningState {
  keepAlive: Partial<KeepAlive> & { enable: boolean };
  userTimeout?: number;
  noDelay?: boolean;
  linger: Linger;
  receiveBufferSize: number;
  sendBufferSize: number;
  congestionControl?: string;
  notSentLowWatermark?: number;
  mark?: number;
  priority?: number;
  /**
   * The TCP fields this socket's protocol refuses to report (a Multipath TCP socket: `userTimeout`),
   * while the others read: absent when every field read.
   */
  unavailable?: TuningPath[];
}

// TuningState names exactly the table's Tuning fields (a compile error otherwise): getTuning reads
// every row with a `tuning` column, so a new row is read back (and compared for drift) at once.
const stateNamesEveryField: SameNames<Exclude<keyof TuningState, 'unavailable'>, TuningField> = true;
void stateNamesEveryField;

/** Each Tuning row with its path split once. */
const STATE_PATHS = TUNING_ROWS.map((row) => {
  const [head, sub] = row.tuning.split('.') as [string, string | undefined];
  return { row, head, sub };
});

// ---------------------------------------------------------------------------------------------
// Reading a tuning back.

/** getsockopt errnos that mean "this option is not for this kind of socket" (TCP options on UDP or Unix). */
export const NOT_THIS_SOCKET = new Set(['EOPNOTSUPP', 'ENOPROTOOPT']);

/**
 * The int rows of the tuning that this platform defines, grouped by level (socket level first),
 * leaving out those in `known` (given by the caller: the inspector has them from the diagnostics).
 */
function readableIntRows(known: ReadonlySet<string>): { socket: Resolved[]; tcp: Resolved[] } {
  const socket: Resolved[] = [];
  const tcp: Resolved[] = [];
  for (const row of TUNING_ROWS) {
    if ((row.kind !== 'int' && row.kind !== 'bool') || known.has(row.tuning)) continue;
    const option = lookup(row.name);
    if (option) (row.level === 'IPPROTO_TCP' ? tcp : socket).push(option);
  }
  return { socket, tcp };
}
// By the paths left out (joined): getTuning's (none), and the inspector's.
const intRowsKnowing = new Map<string, ReturnType<typeof readableIntRows>>();
const NOTHING_KNOWN: ReadonlyMap<TuningPath, unknown> = new Map();

/**
 * Reads `options` in one crossing into `out` by path; false when the socket has no such level (TCP
 * options on UDP or Unix). Where the batch is refused but some options read (a Multipath TCP socket
 * refuses TCP_USER_TIMEOUT, not the keepalive timings), each is read alone, and the ones the
 * protocol refuses are added to `unavailable`.
 */
function readInts(fd: number, options: readonly Resolved[], out: Map<TuningPath, number>, optional: boolean, unavailable?: TuningPath[]): boolean {
  options.forEach((option, i) => queue(i, option, 0));
  try {
    readQueued(fd, options.length);
  } catch (err) {
    if (!(optional && err instanceof SyscallError && NOT_THIS_SOCKET.has(errnoName(err.errno)))) throw err;
    const refused: TuningPath[] = [];
    for (const option of options) {
      try {
        queue(0, option, 0);
        readQueued(fd, 1);
        out.set(option.row.tuning!, readValue(0));
      } catch (each) {
        if (!(each instanceof SyscallError && NOT_THIS_SOCKET.has(errnoName(each.errno)))) throw each;
        refused.push(option.row.tuning!);
      }
    }
    if (refused.length === options.length) return false;
    unavailable?.push(...refused);
    return true;
  }
  options.forEach((option, i) => out.set(option.row.tuning!, readValue(i)));
  return true;
}

/**
 * Reads every field of a Tuning back from the kernel, in the same shape and in the kernel's units.
 * On a UDP or Unix socket only the socket-level fields are present.
 */
export function getTuning(target: Target): TuningState {
  requireAddon();
  return readTuning(fdOf(target), NOTHING_KNOWN);
}

/**
 * getTuning() of an fd, with the fields in `known` taken as given instead of read (each is one
 * getsockopt less: the inspector has the buffer sizes, congestion control and mark from the
 * kernel's socket diagnostics).
 */
export function readTuning(fd: number, known: ReadonlyMap<TuningPath, unknown>): TuningState {
  const key = [...known.keys()].join();
  let intRows = intRowsKnowing.get(key);
  if (intRows === undefined) intRowsKnowing.set(key, (intRows = readableIntRows(new Set(known.keys()))));
  const values = new Map<TuningPath, number>();
  readInts(fd, intRows.socket, values, false);
  const unavailable: TuningPath[] = [];
  const isTcp = intRows.tcp.length > 0 && readInts(fd, intRows.tcp, values, true, unavailable);
  // A linger and a name are read with their own calls (a TCP one only on a TCP socket).
  return assembleState(unavailable, (row) => {
    if (known.has(row.tuning)) return known.get(row.tuning);
    if (row.kind === 'int' || row.kind === 'bool') {
      const read = values.get(row.tuning);
      return read === undefined ? undefined : row.kind === 'bool' ? read !== 0 : read;
    }
    const option = lookup(row.name);
    if (!option || (row.level === 'IPPROTO_TCP' && !isTcp)) return undefined;
    return row.kind === 'linger' ? readLinger(fd) : readName(fd, option);
  });
}

/**
 * A TuningState of every Tuning row, in the table's order, in the shape of its kind (a bool as a
 * boolean, an int as a number, a linger as one): `valueOf(row)` gives each, undefined where absent.
 */
function assembleState(unavailable: TuningPath[], valueOf: (row: (typeof TUNING_ROWS)[number]) => unknown): TuningState {
  const state: Record<string, unknown> & { keepAlive: Record<string, unknown> } = { keepAlive: {} };
  for (const { row, head, sub } of STATE_PATHS) {
    const value = valueOf(row);
    if (value === undefined) continue;
    if (sub) state.keepAlive[sub] = value;
    else state[head] = value;
  }
  if (unavailable.length > 0) state.unavailable = unavailable;
  return state as unknown as TuningState;
}

// ---------------------------------------------------------------------------------------------
// Reading tunings of many borrowed copies at once (the inspector): every read in one crossing.

/** The reads that give a Tuning's fields on a borrowed copy (readCopies), and which read is whose. */
export interface TuningReads {
  readonly reads: readonly CopyRead[];
  /** By Tuning path: the index of its read (absent: known, or this platform lacks the option). */
  readonly readOf: ReadonlyMap<TuningPath, number>;
  readonly known: ReadonlySet<TuningPath>;
}
const readsKnowing = new Map<string, TuningReads>();

/** The bytes a read of `row` takes: an int, a struct linger (two ints), a name with its NUL. */
function readSize(row: (typeof TUNING_ROWS)[number]): number {
  if (row.kind === 'linger') return 8;
  if (row.kind === 'string') return row.maxLength + 1;
  return 4;
}

/** The reads of every Tuning row this platform defines but those in `known` (given by the caller). */
export function tuningReads(known: readonly TuningPath[]): TuningReads {
  const key = known.join();
  let plan = readsKnowing.get(key);
  if (plan !== undefined) return plan;
  const reads: CopyRead[] = [];
  const readOf = new Map<TuningPath, number>();
  for (const row of TUNING_ROWS) {
    const option = lookup(row.name);
    if (!option || known.includes(row.tuning)) continue;
    readOf.set(row.tuning, reads.length);
    reads.push({ option, size: readSize(row) });
  }
  readsKnowing.set(key, (plan = { reads, readOf, known: new Set(known) }));
  return plan;
}

/**
 * The TuningState of copy `i` of `readings` (made with `plan.reads`), as readTuning() reads it; the
 * known paths' values from `knownValue`. A TCP read that every TCP option refuses means a socket
 * that is not TCP (no TCP fields); one refused among others is `unavailable` (Multipath TCP's
 * user timeout). Any other failed read throws its SyscallError.
 */
export function tuningOfReadings(readings: CopyReadings, i: number, plan: TuningReads, knownValue: (path: TuningPath) => unknown): TuningState {
  const refused: TuningPath[] = [];
  let tcpReads = 0;
  for (const row of TUNING_ROWS) {
    const k = plan.readOf.get(row.tuning);
    if (k === undefined) continue;
    if (row.level === 'IPPROTO_TCP') tcpReads++;
    const length = readings.length(i, k);
    if (length >= 0) continue;
    if (row.level === 'IPPROTO_TCP' && NOT_THIS_SOCKET.has(errnoName(-length))) refused.push(row.tuning);
    else throw syscallError(-length, 'getsockopt', { level: row.level, option: plan.reads[k]!.option.name }, row);
  }
  const isTcp = refused.length < tcpReads;
  return assembleState(isTcp ? refused : [], (row) => {
    if (plan.known.has(row.tuning)) return knownValue(row.tuning);
    const k = plan.readOf.get(row.tuning);
    if (k === undefined || refused.includes(row.tuning)) return undefined;
    if (row.kind === 'bool') return readings.int(i, k) !== 0;
    if (row.kind === 'int') return readings.int(i, k);
    if (row.kind === 'linger') return { enable: readings.int(i, k) !== 0, seconds: readings.secondInt(i, k) };
    let text = '';
    for (const byte of readings.data(i, k)) {
      if (byte === 0) break;
      text += String.fromCharCode(byte);
    }
    return text;
  });
}

/** The value at `path` of a TuningState. */
function stateValue(state: TuningState, path: TuningPath): unknown {
  const [head, sub] = path.split('.') as [keyof TuningState, keyof KeepAlive | undefined];
  return sub ? state.keepAlive[sub] : state[head];
}

/**
 * A plan that puts back on `fd` what `plan`'s fields hold there now, read from the kernel: how a
 * tuning replaced on a listener is undone before its replacement is applied (so the replacement is
 * whole, never merged field by field). Linux reports buffer sizes doubled: half is set back.
 */
export function snapshotPlan(fd: number, plan: Plan): Plan {
  const state = getTuning(fd);
  const fields: PlannedField[] = [];
  for (const { option, path } of plan.fields) {
    const now = stateValue(state, path);
    if (now === undefined) continue;
    let value: number | string | Linger;
    if (option.row.kind === 'bool') value = now === true || now === 1 ? 1 : 0;
    else if (option.row.kind === 'linger') value = Object.freeze({ ...(now as Linger) });
    else if (reportedValue(option.row, 1) === 2) value = Math.max(1, Math.floor((now as number) / 2));
    else value = now as number | string;
    fields.push({ option, path, value });
  }
  return { fields, intCount: fields.filter((f) => f.option.row.kind === 'bool' || f.option.row.kind === 'int').length, tuning: plan.tuning };
}

/**
 * The Tuning paths of `plan` whose kernel value in `state` differs from what was set: a bool as
 * on/off, a buffer size against the doubled value Linux reports, a linger by both fields.
 */
export function driftOf(plan: Plan, state: TuningState): TuningPath[] {
  const drift: TuningPath[] = [];
  for (const { option, path, value } of plan.fields) {
    const now = stateValue(state, path);
    let same: boolean;
    if (option.row.kind === 'bool') same = (now === true || now === 1) === (value === 1);
    else if (option.row.kind === 'linger')
      same = now !== undefined && (now as Linger).enable === (value as Linger).enable && (now as Linger).seconds === (value as Linger).seconds;
    else if (option.row.kind === 'int') same = now === reportedValue(option.row, value as number);
    else same = now === value;
    if (!same) drift.push(path);
  }
  return drift;
}
