/**
 * Tunings: the knobs a user sets together, as one plain object, validated as a whole before the
 * first syscall and applied in one crossing into the addon (SO_LINGER, a struct, is a second).
 *
 *   knobs.tune(socket, { keepAlive: { idle: 60, interval: 10, count: 3 }, userTimeout: 90_000, noDelay: true });
 *
 * On a listening net.Server a tuning tunes the listener, and on Linux every socket it accepts
 * inherits it (read back on accepted sockets in test/tuning.test.js): no syscall per connection.
 */
import net = require('node:net');
import { applyQueued, checkValue, lookup, queue, readQueued, readValue, resolve, type Resolved } from './core';
import { fdOf, type Target } from './target';
import { requireAddon } from './native';
import { eachField, ensureOptionsObject, invalidValue, validateBoolean } from './validate';
import { KEEPALIVE_FIELDS, checkKeepAlive, keepAliveRows, readLinger, readName, validateLinger, validateName, writeLinger, writeName, type KeepAlive, type KeepAliveOptions, type Linger } from './values';

/** The knobs of one connection (or listener), set together. Every field is optional. */
export interface Tuning {
  /** Keepalive (SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT) in seconds, or `false` to turn SO_KEEPALIVE off. */
  keepAlive?: KeepAliveOptions | false;
  /** TCP_USER_TIMEOUT in milliseconds (Linux); 0 restores the system default. */
  userTimeout?: number;
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

/** Every field of a Tuning as the kernel reports it; a field the platform lacks is absent. */
export interface TuningState {
  keepAlive: Partial<KeepAlive> & { enable: boolean };
  userTimeout?: number;
  noDelay: boolean;
  linger: Linger;
  receiveBufferSize: number;
  sendBufferSize: number;
  congestionControl?: string;
  notSentLowWatermark?: number;
  mark?: number;
  priority?: number;
}

export const TUNING_FIELDS = ['keepAlive', 'userTimeout', 'noDelay', 'linger', 'receiveBufferSize', 'sendBufferSize', 'congestionControl', 'notSentLowWatermark', 'mark', 'priority'] as const;

/** A validated tuning: the int options in the order they are set, and the linger struct. */
export interface Plan {
  readonly ops: readonly (readonly [Resolved, number])[];
  readonly linger?: Linger;
  readonly congestionControl?: string;
  /** The tuning as validated (a frozen copy), for Tuner.tuning. */
  readonly tuning: Readonly<Tuning>;
}

/** Validates a whole tuning; throws InvalidArgumentError or UnsupportedOptionError before any syscall. */
export function compileTuning(tuning: unknown, name = 'tuning'): Plan {
  requireAddon(); // even an empty tuning: without the addon nothing would be applied, so say so
  ensureOptionsObject(tuning, name);
  const given: Partial<Record<(typeof TUNING_FIELDS)[number], unknown>> = {};
  eachField(tuning, name, TUNING_FIELDS, (key, value) => {
    if (value !== undefined) given[key] = value;
  });
  const ops: (readonly [Resolved, number])[] = [];
  const copy: Tuning = {};
  if (given.keepAlive !== undefined) {
    const rows = keepAliveRows();
    if (given.keepAlive === false) {
      ops.push([rows[0], 0]);
      copy.keepAlive = false;
    } else {
      const fields: KeepAliveOptions = {};
      ensureOptionsObject(given.keepAlive, `${name}.keepAlive`);
      eachField(given.keepAlive, `${name}.keepAlive`, KEEPALIVE_FIELDS, (key, value) => {
        if (value !== undefined) (fields as Record<string, unknown>)[key] = value;
      });
      const enable = fields.enable === undefined ? true : validateBoolean(fields.enable, `${name}.keepAlive.enable`);
      ops.push([rows[0], enable ? 1 : 0]);
      const checked: KeepAliveOptions = { enable };
      (['idle', 'interval', 'count'] as const).forEach((key, i) => {
        if (fields[key] === undefined) return;
        const index = (i + 1) as 1 | 2 | 3;
        checked[key] = checkKeepAlive(rows, index, fields[key], `${name}.keepAlive.${key}`);
        ops.push([rows[index]!, checked[key]!]);
      });
      copy.keepAlive = Object.freeze(checked);
    }
  }
  const ranged = (key: 'userTimeout' | 'receiveBufferSize' | 'sendBufferSize' | 'notSentLowWatermark' | 'mark' | 'priority', row: string): void => {
    if (given[key] === undefined) return;
    const option = resolve(row);
    copy[key] = checkValue(option, given[key], `${name}.${key}`);
    ops.push([option, copy[key]!]);
  };
  ranged('userTimeout', 'TCP_USER_TIMEOUT');
  if (given.noDelay !== undefined) {
    copy.noDelay = validateBoolean(given.noDelay, `${name}.noDelay`);
    ops.push([resolve('TCP_NODELAY'), copy.noDelay ? 1 : 0]);
  }
  ranged('receiveBufferSize', 'SO_RCVBUF');
  ranged('sendBufferSize', 'SO_SNDBUF');
  ranged('notSentLowWatermark', 'TCP_NOTSENT_LOWAT');
  ranged('mark', 'SO_MARK');
  ranged('priority', 'SO_PRIORITY');
  if (given.congestionControl !== undefined) {
    copy.congestionControl = validateName(resolve('TCP_CONGESTION'), given.congestionControl, `${name}.congestionControl`, false);
  }
  let linger: Linger | undefined;
  if (given.linger !== undefined) {
    linger = Object.freeze(validateLinger(given.linger, `${name}.linger`));
    copy.linger = linger;
  }
  return { ops, linger, congestionControl: copy.congestionControl, tuning: Object.freeze(copy) };
}

/**
 * Node resets some options on every socket a server accepts: `keepAlive: true` with a
 * `keepAliveInitialDelay` (net and http servers) sets idle to the delay, interval 1 and count 10,
 * and `noDelay: true` (http's default) sets TCP_NODELAY. A listener tuned otherwise would be
 * overridden on every connection: refused here, rather than lost silently.
 */
function checkServerOverrides(server: net.Server, tuning: Readonly<Tuning>): void {
  // net.Server keeps these as given to its constructor (keepAliveInitialDelay in whole seconds).
  const own = server as unknown as { keepAlive?: unknown; keepAliveInitialDelay?: unknown; noDelay?: unknown };
  if (tuning.keepAlive !== undefined && own.keepAlive === true && (tuning.keepAlive === false || Number(own.keepAliveInitialDelay) > 0)) {
    throw invalidValue(
      'tuning.keepAlive',
      `cannot hold on this server: it was created with keepAlive: true and a keepAliveInitialDelay (${Number(own.keepAliveInitialDelay)} s), so Node resets keepalive (idle, interval 1, count 10) on every socket it accepts. Create the server without them and let the listener's tuning be inherited`,
      undefined,
    );
  }
  if (tuning.noDelay === false && own.noDelay === true) {
    throw invalidValue(
      'tuning.noDelay',
      'cannot hold on this server: it was created with noDelay: true (the default of http.createServer), so Node sets TCP_NODELAY on every socket it accepts',
      undefined,
    );
  }
}

/** Applies a validated tuning: one crossing for the int options, one for linger. */
export function applyPlan(target: Target, plan: Plan): void {
  const fd = fdOf(target); // recognises (and vets) the target; no syscall yet
  if (target instanceof net.Server) checkServerOverrides(target, plan.tuning);
  const { ops } = plan;
  for (let i = 0; i < ops.length; i++) queue(i, ops[i]![0], ops[i]![1]);
  if (ops.length > 0) applyQueued(fd, ops.length);
  if (!plan.linger && plan.congestionControl === undefined) return;
  const applied = ops.map(([option]) => option.name);
  if (plan.linger) {
    writeLinger(fd, plan.linger, applied.length > 0 ? applied : undefined);
    applied.push('SO_LINGER');
  }
  if (plan.congestionControl !== undefined) writeName(fd, resolve('TCP_CONGESTION'), plan.congestionControl, applied.length > 0 ? applied : undefined);
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
  /** The tuning as validated (frozen). */
  readonly tuning: Readonly<Tuning>;
  /** Applies it to `target`: the fd lookup and one crossing, no validation. */
  apply(target: Target): void;
}

/** Validates `tuning` now and returns a Tuner whose `apply(target)` only makes the syscalls. */
export function createTuner(tuning: Tuning): Tuner {
  const plan = compileTuning(tuning);
  return Object.freeze({ tuning: plan.tuning, apply: (target: Target) => applyPlan(target, plan) });
}

/** Reads every field of a Tuning back from the kernel, in the same shape and units. */
export function getTuning(target: Target): TuningState {
  const rows = keepAliveRows();
  const reads: [keyof TuningState | 'enable' | 'idle' | 'interval' | 'count', Resolved][] = [['enable', rows[0]]];
  if (rows[1]) reads.push(['idle', rows[1]]);
  if (rows[2]) reads.push(['interval', rows[2]]);
  if (rows[3]) reads.push(['count', rows[3]]);
  const userTimeout = lookup('TCP_USER_TIMEOUT');
  if (userTimeout) reads.push(['userTimeout', userTimeout]);
  reads.push(['noDelay', resolve('TCP_NODELAY')], ['receiveBufferSize', resolve('SO_RCVBUF')], ['sendBufferSize', resolve('SO_SNDBUF')]);
  for (const [key, row] of [['notSentLowWatermark', 'TCP_NOTSENT_LOWAT'], ['mark', 'SO_MARK'], ['priority', 'SO_PRIORITY']] as const) {
    const option = lookup(row);
    if (option) reads.push([key, option]);
  }
  const fd = fdOf(target);
  reads.forEach(([, option], i) => queue(i, option, 0));
  readQueued(fd, reads.length);
  const values: Record<string, number> = {};
  reads.forEach(([key], i) => (values[key] = readValue(i)));
  const keepAlive: TuningState['keepAlive'] = { enable: values.enable !== 0 };
  for (const key of ['idle', 'interval', 'count'] as const) if (key in values) keepAlive[key] = values[key]!;
  const state: TuningState = {
    keepAlive,
    noDelay: values.noDelay !== 0,
    linger: readLinger(fd),
    receiveBufferSize: values.receiveBufferSize!,
    sendBufferSize: values.sendBufferSize!,
  };
  for (const key of ['userTimeout', 'notSentLowWatermark', 'mark', 'priority'] as const) if (key in values) state[key] = values[key]!;
  const congestion = lookup('TCP_CONGESTION');
  if (congestion) state.congestionControl = readName(fd, congestion);
  return state;
}
