/**
 * Tunings: the knobs a user sets together, as one plain object, validated as a whole before the
 * first syscall and applied in one crossing into the addon (SO_LINGER and TCP_CONGESTION, which
 * are not ints, take one more each).
 *
 *   knobs.tune(socket, { keepAlive: { idle: '60s', interval: '10s', count: 3 }, userTimeout: '90s', noDelay: true });
 *
 * Which option backs each field, its unit and whether an accepted socket inherits it are the rows
 * of the option table (`tuning` column): this module has no list of its own.
 */
import type net = require('node:net');
import { net as netModule } from '../core/builtins';
import { applyQueued, getIntOption, lookup, queue, readQueued, readValue, requireAddon, resolve, syscallError, type Resolved } from '../core/syscall';
import { TUNING_ROWS, type OptionRow, type TuningPath } from '../core/table';
import { listenerPlace } from '../core/inheritance';
import { serverFamily } from '../node/kinds';
import { SyscallError, errnoName } from '../core/errors';
import { fdOf, type Target } from '../node/target';
import type { Duration } from '../core/units';
import { NOT_SHOWN, invalidType, invalidValue, readOptions, validateBoolean } from '../core/validate';
import {
  KEEPALIVE_FIELDS,
  checkValue,
  readLinger,
  readName,
  validateLinger,
  validateName,
  writeLinger,
  writeName,
  type KeepAlive,
  type KeepAliveOptions,
  type Linger,
} from '../options/values';

/** The knobs of one connection (or listener), set together. Every field is optional. */
export interface Tuning {
  /**
   * Keepalive (SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT): times in seconds, or strings with their unit
   * ('45s'); `false` turns SO_KEEPALIVE off.
   */
  keepAlive?: KeepAliveOptions | false;
  /** TCP_USER_TIMEOUT in milliseconds, or a string with its unit ('90s') (Linux); 0 restores the system default. */
  userTimeout?: Duration;
  /** TCP_NODELAY. */
  noDelay?: boolean;
  /** SO_LINGER. */
  linger?: Linger;
  /** SO_RCVBUF in bytes (Linux reports twice the value). */
  receiveBufferSize?: number;
  /** SO_SNDBUF in bytes (Linux reports twice the value). */
  sendBufferSize?: number;
  /** TCP_CONGESTION: the congestion-control algorithm, e.g. `'bbr'` (Linux). */
  congestionControl?: string;
  /** TCP_NOTSENT_LOWAT in bytes: unsent data the write queue may hold (Linux, macOS). */
  notSentLowWatermark?: number;
  /** SO_MARK: the firewall / routing mark of outgoing packets (Linux; CAP_NET_ADMIN or CAP_NET_RAW). */
  mark?: number;
  /** SO_PRIORITY: queueing priority (Linux; 0..6 unprivileged). Not inherited by accepted sockets. */
  priority?: number;
}

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

/** The top-level Tuning fields, in the table's order. */
export const TUNING_FIELDS = [...new Set(TUNING_ROWS.map((r) => r.tuning.split('.')[0]!))] as readonly (keyof Tuning)[];

// The table and the Tuning interface name the same fields (a compile error otherwise).
type TopField<P extends string> = P extends `${infer Head}.${string}` ? Head : P;
const sameFields: Record<TopField<TuningPath>, true> & Record<keyof Tuning, true> = {
  keepAlive: true,
  userTimeout: true,
  noDelay: true,
  linger: true,
  receiveBufferSize: true,
  sendBufferSize: true,
  congestionControl: true,
  notSentLowWatermark: true,
  mark: true,
  priority: true,
};
void sameFields;

/** One validated field: its row as resolved here, its path, and its value. */
export interface PlannedField {
  readonly option: Resolved;
  readonly path: TuningPath;
  readonly value: number | string | Linger;
}

/** A validated tuning. */
export interface Plan {
  /** The fields given, in the order they are set: ints first (one crossing), then linger, then names. */
  readonly fields: readonly PlannedField[];
  /** How many of `fields` are ints, batched together. */
  readonly intCount: number;
  /** The tuning as validated (a frozen copy, times in the kernel's units), for Tuner.tuning. */
  readonly tuning: Readonly<Tuning>;
}

/** Each Tuning row with its path split once (`keepAlive.idle`: head `keepAlive`, sub `idle`), not per call. */
const TUNING_PATHS = TUNING_ROWS.map((row) => {
  const [head, sub] = row.tuning.split('.') as [keyof Tuning, (typeof KEEPALIVE_FIELDS)[number] | undefined];
  return { row, head, sub };
});

/** Validates a whole tuning; throws InvalidArgumentError or UnsupportedOptionError before any syscall. */
export function compileTuning(tuning: unknown, name = 'tuning'): Plan {
  requireAddon(); // even an empty tuning: without the addon nothing would be applied, so say so
  if (tuning === undefined) throw invalidType(name, 'of type object', tuning);
  const given = readOptions(tuning, name, TUNING_FIELDS);
  // keepAlive: false is { enable: false }; an object's enable defaults to true.
  let keepAlive: Partial<Record<(typeof KEEPALIVE_FIELDS)[number], unknown>> = {};
  if (given.keepAlive === false) keepAlive = { enable: false };
  else if (given.keepAlive !== undefined) keepAlive = { enable: true, ...readOptions(given.keepAlive, `${name}.keepAlive`, KEEPALIVE_FIELDS) };

  const ints: PlannedField[] = [];
  const others: PlannedField[] = [];
  const copy: Record<string, unknown> = {};
  const copyKeepAlive: Record<string, unknown> = {};
  for (const { row, head, sub } of TUNING_PATHS) {
    const raw = sub ? keepAlive[sub] : given[head];
    if (raw === undefined) continue;
    const argName = `${name}.${row.tuning}`;
    const option = resolve(row.name);
    const value = checkField(option, raw, argName);
    (row.kind === 'bool' || row.kind === 'int' ? ints : others).push({ option, path: row.tuning, value });
    const shown = row.kind === 'bool' ? value === 1 : value;
    if (sub) copyKeepAlive[sub] = shown;
    else copy[head] = shown;
  }
  if (given.keepAlive === false) copy.keepAlive = false;
  else if (given.keepAlive !== undefined) copy.keepAlive = Object.freeze(copyKeepAlive);
  return { fields: [...ints, ...others], intCount: ints.length, tuning: Object.freeze(copy) as Readonly<Tuning> };
}

/** A field's value checked by its row's kind: 1/0 for a bool, a number in the kernel's unit, a linger, a name. */
function checkField(option: Resolved, value: unknown, argName: string): number | string | Linger {
  switch (option.row.kind) {
    case 'bool':
      return validateBoolean(value, argName) ? 1 : 0;
    case 'int':
      return checkValue(option, value, argName);
    case 'linger':
      return Object.freeze(validateLinger(value, argName));
    case 'string':
      return validateName(option, value, argName);
    default:
      throw invalidValue(argName, 'is not a settable field', value);
  }
}

/** The part of `plan` whose rows satisfy `keep` (tuneServer: the inherited fields, or the others). */
export function subPlan(plan: Plan, keep: (row: OptionRow) => boolean): Plan {
  const fields = plan.fields.filter((f) => keep(f.option.row));
  return { fields, intCount: fields.filter((f) => f.option.row.kind === 'bool' || f.option.row.kind === 'int').length, tuning: plan.tuning };
}

const KIND_ORDER: Record<string, number> = { bool: 0, int: 0, linger: 1, string: 2 };

/** `a`'s fields and those of `b` whose paths `a` lacks, in the order a plan is applied (ints first). */
export function mergePlans(a: Plan, b: Plan): Plan {
  const paths = new Set(a.fields.map((f) => f.path));
  const fields = [...a.fields, ...b.fields.filter((f) => !paths.has(f.path))].sort(
    (x, y) => (KIND_ORDER[x.option.row.kind] ?? 3) - (KIND_ORDER[y.option.row.kind] ?? 3),
  );
  return { fields, intCount: fields.filter((f) => f.option.row.kind === 'bool' || f.option.row.kind === 'int').length, tuning: a.tuning };
}

/** A plan naming `paths` (values to be read with snapshotPlan): what a listener held, to compare accepted sockets with. */
export function pathsPlan(paths: Iterable<TuningPath>): Plan {
  const wanted = new Set(paths);
  const fields: PlannedField[] = [];
  for (const row of TUNING_ROWS) {
    const option = wanted.has(row.tuning) ? lookup(row.name) : null;
    if (option) fields.push({ option, path: row.tuning, value: 0 });
  }
  return mergePlans({ fields, intCount: 0, tuning: {} }, { fields: [], intCount: 0, tuning: {} });
}

/** A field of a plan that a listener cannot hold for the sockets it accepts, and why. */
export interface ListenerConflict {
  readonly path: TuningPath;
  readonly reason: string;
  /** False when the field does not apply to the server's sockets at all (a TCP field on an AF_UNIX server): it is set nowhere. */
  readonly applies: boolean;
}

/**
 * The fields of `plan` that a socket accepted from `server`'s listener would not start with, even
 * though the listener holds them: what the option table says is not inherited on this platform or
 * address family (lib/core/inheritance.ts: SO_PRIORITY; every field off Linux, and the keepalive
 * fields never on a listener there; every field of an AF_UNIX server, whose TCP fields do not
 * apply at all), and what Node itself sets on each accepted socket or session: a server made with
 * `keepAlive: true` re-enables keepalive (and with a delay sets idle, interval 1 and count 10),
 * `noDelay: true` (http's default) sets TCP_NODELAY, and an http2 server sets TCP_NODELAY when
 * each session starts. `platform` is read at the call (tests pass each one).
 */
export function listenerConflicts(server: net.Server, plan: Plan, platform: NodeJS.Platform = process.platform): ListenerConflict[] {
  // net.Server keeps these as given to its constructor (keepAliveInitialDelay in whole seconds).
  const own = server as unknown as { keepAlive?: unknown; keepAliveInitialDelay?: unknown; noDelay?: unknown; updateSettings?: unknown };
  const http2 = typeof own.updateSettings === 'function';
  const family = serverFamily(server) ?? 'IPv4';
  const conflicts: ListenerConflict[] = [];
  for (const { option, path, value } of plan.fields) {
    const where = listenerPlace(option.row, family, platform);
    if (where.place !== 'listener') {
      conflicts.push({ path, reason: where.reason, applies: where.place === 'per-connection' });
    } else if (path.startsWith('keepAlive.') && own.keepAlive === true) {
      const delay = Number(own.keepAliveInitialDelay);
      const overwritten = path === 'keepAlive.enable' ? value === 0 : delay > 0;
      if (overwritten) {
        conflicts.push({
          path,
          reason: `the server was created with keepAlive: true${delay > 0 ? ` and keepAliveInitialDelay (${delay} s)` : ''}, so Node sets keepalive on every socket it accepts${delay > 0 ? ' (idle, interval 1, count 10)' : ''}`,
          applies: true,
        });
      }
    } else if (path === 'noDelay' && value === 0 && (own.noDelay === true || http2)) {
      conflicts.push({
        path,
        reason: http2
          ? 'an http2 server sets TCP_NODELAY on each connection when its session starts'
          : 'the server was created with noDelay: true (the default of http.createServer), so Node sets TCP_NODELAY on every socket it accepts',
        applies: true,
      });
    }
  }
  return conflicts;
}

/** The typed refusal of a field that does not apply to a server's address family (tune(server), tuneServer(), listen()). */
export function notApplicableError(conflict: ListenerConflict): Error {
  return invalidValue(`tuning.${conflict.path}`, `does not apply to this server: ${conflict.reason}. Drop it from this server's tuning`, NOT_SHOWN);
}

/**
 * tune(server) is strict and exact: a tuning that could not hold on every accepted socket is
 * refused, naming the cause and the fix, rather than lost silently.
 */
function refuseUnholdable(server: net.Server, plan: Plan): void {
  const conflicts = listenerConflicts(server, plan);
  if (conflicts.length === 0) return;
  const first = conflicts.find((c) => !c.applies) ?? conflicts[0]!;
  if (!first.applies) throw notApplicableError(first);
  throw invalidValue(
    `tuning.${first.path}`,
    `cannot hold on this server's accepted sockets: ${first.reason}. Use tuneServer(server, tuning), which sets such fields on each accepted socket after Node's own, or drop the server option`,
    NOT_SHOWN,
  );
}

/**
 * A refusal on a connected socket that turns out to be Multipath TCP, said so: the kernel's MPTCP
 * socket refuses some TCP options (ENOPROTOOPT) that a plain TCP socket takes. Only read when the
 * kernel already refused, so a tuning that holds costs no extra syscall.
 */
function namingMptcp(fd: number, err: unknown): unknown {
  if (!(err instanceof SyscallError) || !NOT_THIS_SOCKET.has(errnoName(Math.abs(err.errno)))) return err;
  const isMptcp = lookup('TCP_IS_MPTCP');
  try {
    if (!isMptcp || getIntOption(fd, isMptcp) !== 1) return err;
  } catch {
    return err;
  }
  const details = { level: err.level, option: err.option, value: err.value, applied: err.applied };
  return syscallError(
    Math.abs(err.errno),
    err.syscall,
    details,
    undefined,
    `${String(err.option)} is refused on a Multipath TCP socket (this kernel's MPTCP socket does not take it)`,
  );
}

/** Applies a validated tuning to an fd: one crossing for the ints, one for each struct or name. */
export function applyPlanToFd(fd: number, plan: Plan): void {
  try {
    applyPlanFields(fd, plan);
  } catch (err) {
    throw namingMptcp(fd, err);
  }
}

function applyPlanFields(fd: number, plan: Plan): void {
  const { fields, intCount } = plan;
  for (let i = 0; i < intCount; i++) queue(i, fields[i]!.option, fields[i]!.value as number);
  if (intCount > 0) applyQueued(fd, intCount);
  if (fields.length === intCount) return;
  const applied = fields.slice(0, intCount).map((f) => f.option.name);
  for (let i = intCount; i < fields.length; i++) {
    const { option, value } = fields[i]!;
    const already = applied.length > 0 ? applied : undefined;
    if (option.row.kind === 'linger') writeLinger(fd, value as Linger, already);
    else writeName(fd, option, value as string, already);
    applied.push(option.name);
  }
}

/** Applies a validated tuning to `target`. */
export function applyPlan(target: Target, plan: Plan): void {
  const fd = fdOf(target); // recognises (and vets) the target; no syscall yet
  if (target instanceof netModule().Server) refuseUnholdable(target, plan);
  applyPlanToFd(fd, plan);
}

/**
 * Applies `tuning` to `target` (a connected socket, a listening server, or an fd). An unknown field
 * (a typo such as `keepalive`) is ERR_INVALID_ARG_VALUE; any invalid value throws
 * InvalidArgumentError and nothing is changed. If the kernel refuses an option, the SyscallError's
 * `applied` lists the options already set.
 */
export function tune(target: Target, tuning: Tuning): void {
  applyPlan(target, compileTuning(tuning));
}

/** A tuning validated once, for applying to many sockets (a server's connections, a pool's). */
export interface Tuner {
  /** The tuning as validated (frozen; times in the kernel's units). */
  readonly tuning: Readonly<Tuning>;
  /** Applies it to `target`: the fd lookup and one crossing, no validation. */
  apply(target: Target): void;
}

/** Validates `tuning` now and returns a Tuner whose `apply(target)` only makes the syscalls. */
export function createTuner(tuning: Tuning): Tuner {
  const plan = compileTuning(tuning);
  return Object.freeze({ tuning: plan.tuning, apply: (target: Target) => applyPlan(target, plan) });
}

// ---------------------------------------------------------------------------------------------
// Reading a tuning back.

/** getsockopt errnos that mean "this option is not for this kind of socket" (TCP options on UDP or Unix). */
const NOT_THIS_SOCKET = new Set(['EOPNOTSUPP', 'ENOPROTOOPT']);

/** The int rows of the tuning that this platform defines, grouped by level (socket level first). */
function readableIntRows(): { socket: Resolved[]; tcp: Resolved[] } {
  const socket: Resolved[] = [];
  const tcp: Resolved[] = [];
  for (const row of TUNING_ROWS) {
    if (row.kind !== 'int' && row.kind !== 'bool') continue;
    const option = lookup(row.name);
    if (option) (row.level === 'IPPROTO_TCP' ? tcp : socket).push(option);
  }
  return { socket, tcp };
}
let intRows: ReturnType<typeof readableIntRows> | undefined;

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
  intRows ??= readableIntRows();
  const fd = fdOf(target);
  const values = new Map<TuningPath, number>();
  readInts(fd, intRows.socket, values, false);
  const unavailable: TuningPath[] = [];
  const isTcp = intRows.tcp.length > 0 && readInts(fd, intRows.tcp, values, true, unavailable);
  const keepAlive: TuningState['keepAlive'] = { enable: values.get('keepAlive.enable') !== 0 };
  for (const key of ['idle', 'interval', 'count'] as const) {
    const value = values.get(`keepAlive.${key}`);
    if (value !== undefined) keepAlive[key] = value;
  }
  const state: TuningState = {
    keepAlive,
    linger: readLinger(fd),
    receiveBufferSize: values.get('receiveBufferSize')!,
    sendBufferSize: values.get('sendBufferSize')!,
  };
  if (values.has('noDelay')) state.noDelay = values.get('noDelay') !== 0;
  for (const key of ['userTimeout', 'notSentLowWatermark', 'mark', 'priority'] as const) {
    const value = values.get(key);
    if (value !== undefined) state[key] = value;
  }
  const congestion = lookup('TCP_CONGESTION');
  if (congestion && isTcp) state.congestionControl = readName(fd, congestion);
  if (unavailable.length > 0) state.unavailable = unavailable;
  return state;
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
    else if ((path === 'receiveBufferSize' || path === 'sendBufferSize') && process.platform === 'linux') value = Math.max(1, Math.floor((now as number) / 2));
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
    else if ((path === 'receiveBufferSize' || path === 'sendBufferSize') && process.platform === 'linux') same = now === (value as number) * 2;
    else same = now === value;
    if (!same) drift.push(path);
  }
  return drift;
}
