/**
 * Tunings: the knobs a user sets together, as one plain object, validated as a whole before the
 * first syscall (compileTuning) into a Plan that is applied in one crossing into the addon
 * (lib/tuning/apply.ts; SO_LINGER and TCP_CONGESTION, which are not ints, take one more each).
 *
 *   knobs.tune(socket, { keepAlive: { idle: '60s', interval: '10s', count: 3 }, userTimeout: '90s', noDelay: true });
 *
 * Which option backs each field, its unit and whether an accepted socket inherits it are the rows
 * of the option table (`tuning` column): this module has no list of its own.
 */
import { lookup, requireAddon, resolve, type Resolved } from '../core/syscall';
import { TUNING_ROWS, type OptionRow, type TuningPath, type SameNames, type TuningField } from '../core/table';
import type { Duration } from '../core/units';
import { UnsupportedOptionError } from '../core/errors';
import { expandDeadPeer, validateDeadPeer } from './deadpeer';
import { invalidType, invalidValue, readOptions, validateBoolean } from '../core/validate';
import { KEEPALIVE_FIELDS, checkValue, validateLinger, validateName, type KeepAliveOptions, type Linger } from '../options/values';

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
  /**
   * A dead peer is found within this deadline, idle or with data in flight: the connection fails
   * with ETIMEDOUT no later than that after the peer stops answering. Milliseconds, or a string with
   * its unit ('30s'); 3 s to 20 h. It expands, before any syscall, into `keepAlive` and `userTimeout`
   * (lib/tuning/deadpeer.ts: the formula and its worst case); either given too must say the same.
   * Linux (it needs TCP_USER_TIMEOUT).
   */
  deadPeerTimeout?: Duration;
}

/** The Tuning fields that are no option of their own: they expand into the table's fields before any syscall. */
const COMPOSITE_FIELDS = ['deadPeerTimeout'] as const;

/** The top-level Tuning fields, in the table's order. */
export const TUNING_FIELDS = [...new Set(TUNING_ROWS.map((r) => r.tuning.split('.')[0]!)), ...COMPOSITE_FIELDS] as readonly (keyof Tuning)[];

// The table and the Tuning interface name the same fields (a compile error otherwise).
const tuningNamesEveryField: SameNames<Exclude<keyof Tuning, (typeof COMPOSITE_FIELDS)[number]>, TuningField> = true;
void tuningNamesEveryField;

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

/** A tuning's fields as read, each once: the object's, and its keepAlive's. */
export interface TuningRead {
  readonly given: Partial<Record<keyof Tuning, unknown>>;
  readonly keepAlive: Partial<Record<(typeof KEEPALIVE_FIELDS)[number], unknown>>;
}

/** Validates a whole tuning; throws InvalidArgumentError or UnsupportedOptionError before any syscall. */
export function compileTuning(tuning: unknown, name = 'tuning'): Plan {
  return compileRead(readTuning(tuning, name), name);
}

/** The fields of `tuning`, each read once (an object's own enumerable fields; unknown ones refused). */
export function readTuning(tuning: unknown, name: string): TuningRead {
  requireAddon(); // even an empty tuning: without the addon nothing would be applied, so say so
  if (tuning === undefined) throw invalidType(name, 'of type object', tuning);
  const given = readOptions(tuning, name, TUNING_FIELDS);
  return { given, keepAlive: keepAliveGiven(given.keepAlive, name) };
}

/** compileTuning() of the fields read. */
export function compileRead(read: TuningRead, name: string): Plan {
  const { given, keepAlive } = read;
  const implied = impliedFields(given, name);
  // (Little garbage: a tuning written in each call, dial({ ..., tuning: { ... } }), compiles at
  // each, and its garbage is what a process churning connections pays for in scavenges.)
  const ints: PlannedField[] = [];
  const others: PlannedField[] = []; // (empty: no backing store until a push)
  const copy: Record<string, unknown> = {};
  const copyKeepAlive: Record<string, unknown> = {};
  for (const { row, head, sub } of TUNING_PATHS) {
    const raw = sub ? keepAlive[sub] : given[head];
    const implies = implied?.values.get(row.tuning);
    if (raw === undefined && implies === undefined) continue;
    const argName = `${name}.${row.tuning}`;
    const option = resolve(row.name);
    const value = raw === undefined ? implies! : checkField(option, raw, argName);
    if (implies !== undefined && value !== implies) throw contradiction(argName, value, implied!, name);
    (row.kind === 'bool' || row.kind === 'int' ? ints : others).push({ option, path: row.tuning, value });
    const shown = row.kind === 'bool' ? value === 1 : value;
    if (sub) copyKeepAlive[sub] = shown;
    else copy[head] = shown;
  }
  if (given.keepAlive === false) copy.keepAlive = false;
  else if (given.keepAlive !== undefined || implied) copy.keepAlive = Object.freeze(copyKeepAlive);
  if (implied) copy.deadPeerTimeout = implied.deadline;
  return planned(ints, others, copy);
}

/** The plan of the fields found (ints first: one crossing), and the tuning as compiled. */
function planned(ints: PlannedField[], others: PlannedField[], copy: Record<string, unknown>): Plan {
  return { fields: others.length > 0 ? [...ints, ...others] : ints, intCount: ints.length, tuning: Object.freeze(copy) as Readonly<Tuning> };
}

const KEEPALIVE_OFF = Object.freeze({ enable: false });
const NO_KEEPALIVE = Object.freeze({});

/** The keepAlive fields given: `false` is { enable: false }; an object's enable defaults to true. */
function keepAliveGiven(value: unknown, name: string): Partial<Record<(typeof KEEPALIVE_FIELDS)[number], unknown>> {
  if (value === false) return KEEPALIVE_OFF;
  if (value === undefined) return NO_KEEPALIVE;
  return { enable: true, ...readOptions(value, `${name}.keepAlive`, KEEPALIVE_FIELDS) };
}

/** The fields a composite field (deadPeerTimeout) sets, by path, in the kernel's units; undefined when none is given. */
function impliedFields(given: Partial<Record<keyof Tuning, unknown>>, name: string): { deadline: number; values: Map<TuningPath, number> } | undefined {
  if (given.deadPeerTimeout === undefined) return undefined;
  const argName = `${name}.deadPeerTimeout`;
  const deadline = validateDeadPeer(given.deadPeerTimeout, argName);
  // Without a user timeout a busy connection waits for the kernel's retransmissions (about 15
  // minutes on Linux): no deadline can be promised, so say so by this field's name (macOS, Windows).
  const lacking = (['TCP_USER_TIMEOUT', 'TCP_KEEPIDLE', 'TCP_KEEPINTVL', 'TCP_KEEPCNT'] as const).filter((option) => lookup(option) === null);
  if (lacking.length > 0) {
    throw new UnsupportedOptionError(
      'deadPeerTimeout',
      process.platform,
      `it needs ${lacking.join(', ')}, which this platform does not define, to keep a deadline on a connection with data in flight and on an idle one`,
    );
  }
  if (given.keepAlive === false)
    throw invalidValue(`${name}.keepAlive`, `is false, and ${argName} needs keepalive (it finds an idle dead peer with it): give one or the other`, false);
  const e = expandDeadPeer(deadline);
  const values = new Map<TuningPath, number>([
    ['keepAlive.enable', 1],
    ['keepAlive.idle', e.idle],
    ['keepAlive.interval', e.interval],
    ['keepAlive.count', e.count],
    ['userTimeout', e.userTimeout],
  ]);
  return { deadline, values };
}

/** A field given beside deadPeerTimeout that says otherwise: both named, with what the deadline needs. */
function contradiction(argName: string, value: unknown, implied: { deadline: number; values: Map<TuningPath, number> }, name: string) {
  const path = argName.slice(name.length + 1) as TuningPath;
  return invalidValue(
    argName,
    `contradicts ${name}.deadPeerTimeout: a deadline of ${implied.deadline} ms sets it to ${implied.values.get(path)} (lib/tuning/deadpeer.ts); give one or the other`,
    value,
  );
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
  const fields: PlannedField[] = [];
  let intCount = 0;
  for (const f of plan.fields) {
    if (!keep(f.option.row)) continue;
    fields.push(f);
    if (f.option.row.kind === 'bool' || f.option.row.kind === 'int') intCount++;
  }
  return { fields, intCount, tuning: plan.tuning };
}

const KIND_ORDER: Record<string, number> = { bool: 0, int: 0, linger: 1, string: 2 };

/** A plan of `fields` in the order a plan is applied (ints first, one crossing; then linger, then names). */
function planOf(fields: PlannedField[], tuning: Readonly<Tuning>): Plan {
  fields.sort((x, y) => (KIND_ORDER[x.option.row.kind] ?? 3) - (KIND_ORDER[y.option.row.kind] ?? 3));
  return { fields, intCount: fields.filter((f) => f.option.row.kind === 'bool' || f.option.row.kind === 'int').length, tuning };
}

/** `a`'s fields and those of `b` whose paths `a` lacks, in the order a plan is applied (ints first). */
export function mergePlans(a: Plan, b: Plan): Plan {
  const paths = new Set(a.fields.map((f) => f.path));
  return planOf([...a.fields, ...b.fields.filter((f) => !paths.has(f.path))], a.tuning);
}

/** A plan naming `paths` (values to be read with snapshotPlan): what a listener held, to compare accepted sockets with. */
export function pathsPlan(paths: Iterable<TuningPath>): Plan {
  const wanted = new Set(paths);
  const fields: PlannedField[] = [];
  for (const row of TUNING_ROWS) {
    const option = wanted.has(row.tuning) ? lookup(row.name) : null;
    if (option) fields.push({ option, path: row.tuning, value: 0 });
  }
  return planOf(fields, {});
}
