/**
 * One documented setter and getter per option, as rust-lang/socket2 has them: each is a row of
 * the table (lib/core/table.ts), validated before the first syscall.
 */
import { applyQueued, getIntOption, queue, readQueued, readValue, resolve, setIntOption } from '../core/syscall';
import { resolveRef, rowRef, type RowRef } from '../core/row-ref';
import { fdOf, type Target } from '../node/target';
import type { Duration } from '../core/units';
import { ensureOptionsObject, isOwnKey, unknownField, unreadable, validateBoolean } from '../core/validate';
import {
  KEEPALIVE_FIELDS,
  allKeepAliveRows,
  checkKeepAlive,
  checkValue,
  keepAliveRows,
  readLinger,
  readName,
  validateLinger,
  validateName,
  writeLinger,
  writeName,
  type KeepAlive,
  type KeepAliveOptions,
  type Linger,
} from './values';

// The rows of the one-option pairs below, each resolved at its first use.
const REUSE_ADDRESS = rowRef('SO_REUSEADDR');
const REUSE_PORT = rowRef('SO_REUSEPORT');
const NO_DELAY = rowRef('TCP_NODELAY');
const USER_TIMEOUT = rowRef('TCP_USER_TIMEOUT');
const RECEIVE_BUFFER = rowRef('SO_RCVBUF');
const SEND_BUFFER = rowRef('SO_SNDBUF');

/** Validates a boolean argument, then sets the boolean option of `row`. */
function setBool(target: Target, row: RowRef, on: unknown, argName: string): void {
  validateBoolean(on, argName);
  const option = resolveRef(row);
  setIntOption(fdOf(target), option, on ? 1 : 0);
}

/** Validates a number against the row's range (and unit), then sets it. */
function setRanged(target: Target, row: RowRef, value: unknown, argName: string): void {
  const option = resolveRef(row);
  const checked = checkValue(option, value, argName);
  setIntOption(fdOf(target), option, checked);
}

function getInt(target: Target, row: RowRef): number {
  const option = resolveRef(row);
  return getIntOption(fdOf(target), option);
}

// ---------------------------------------------------------------------------------------------
// Keepalive: the heart of the package.

// The last setKeepAlive() timings as given and as validated (a string such as '45s' becomes 45): a
// Symbol no caller can pass marks them unset. Validation is a pure function of the value and the
// row, so equal values (Object.is: -0 and NaN are not taken for 0) give equal numbers.
const NOT_VALIDATED = Symbol('not validated');
const lastGiven: { idle: unknown; interval: unknown; count: unknown } = { idle: NOT_VALIDATED, interval: NOT_VALIDATED, count: NOT_VALIDATED };
const lastValid: { idle: number | undefined; interval: number | undefined; count: number | undefined } = {
  idle: undefined,
  interval: undefined,
  count: undefined,
};

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
    // readOptions's rules (own enumerable fields, each read once, unknown keys refused), inlined:
    // no closure per call on this path.
    try {
      for (const key in options) {
        if (!isOwnKey(options, key)) continue;
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
  // Validate every field (and that the platform has it) before the first syscall. The same values
  // as the last call's (a server's per-connection call) validate to the same numbers, kept; the
  // pair is only updated once all three are valid.
  if (Object.is(idle, lastGiven.idle) && Object.is(interval, lastGiven.interval) && Object.is(count, lastGiven.count)) {
    idle = lastValid.idle;
    interval = lastValid.interval;
    count = lastValid.count;
  } else {
    const checkedIdle = idle === undefined ? undefined : checkKeepAlive(rows, 1, idle, 'options.idle');
    const checkedInterval = interval === undefined ? undefined : checkKeepAlive(rows, 2, interval, 'options.interval');
    const checkedCount = count === undefined ? undefined : checkKeepAlive(rows, 3, count, 'options.count');
    lastGiven.idle = idle;
    lastGiven.interval = interval;
    lastGiven.count = count;
    idle = lastValid.idle = checkedIdle;
    interval = lastValid.interval = checkedInterval;
    count = lastValid.count = checkedCount;
  }
  const fd = fdOf(target);
  queue(0, rows[0], on ? 1 : 0);
  let n = 1;
  if (idle !== undefined) queue(n++, rows[1]!, idle as number);
  if (interval !== undefined) queue(n++, rows[2]!, interval as number);
  if (count !== undefined) queue(n++, rows[3]!, count as number);
  applyQueued(fd, n);
}

/** Reads SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT back from the kernel (seconds). */
export function getKeepAlive(target: Target): KeepAlive {
  const rows = allKeepAliveRows();
  const fd = fdOf(target);
  for (let i = 0; i < 4; i++) queue(i, rows[i]!, 0);
  readQueued(fd, 4);
  return { enable: readValue(0) !== 0, idle: readValue(1), interval: readValue(2), count: readValue(3) };
}

// ---------------------------------------------------------------------------------------------
// One pair per option.

/**
 * SO_REUSEADDR: lets bind() take an address whose old connections are in TIME_WAIT. It matters
 * only before bind(); Node's listening servers already have it (libuv sets it).
 */
export function setReuseAddress(target: Target, on: boolean): void {
  setBool(target, REUSE_ADDRESS, on, 'on');
}
/** Reads SO_REUSEADDR back from the kernel. */
export function getReuseAddress(target: Target): boolean {
  return getInt(target, REUSE_ADDRESS) !== 0;
}

/** SO_REUSEPORT: several sockets may bind one address and port; the kernel spreads connections. */
export function setReusePort(target: Target, on: boolean): void {
  setBool(target, REUSE_PORT, on, 'on');
}
/** Reads SO_REUSEPORT back from the kernel. */
export function getReusePort(target: Target): boolean {
  return getInt(target, REUSE_PORT) !== 0;
}

/** TCP_NODELAY: send small segments at once (Nagle's algorithm off). */
export function setNoDelay(target: Target, on: boolean): void {
  setBool(target, NO_DELAY, on, 'on');
}
/** Reads TCP_NODELAY back from the kernel. */
export function getNoDelay(target: Target): boolean {
  return getInt(target, NO_DELAY) !== 0;
}

/**
 * TCP_USER_TIMEOUT (Linux): how long sent data may stay unacknowledged before the kernel drops the
 * connection with ETIMEDOUT, in milliseconds (or a string with its unit: '90s'). 0 restores the
 * system default.
 */
export function setUserTimeout(target: Target, ms: Duration): void {
  setRanged(target, USER_TIMEOUT, ms, 'ms');
}
/** Reads TCP_USER_TIMEOUT (milliseconds) back from the kernel. */
export function getUserTimeout(target: Target): number {
  return getInt(target, USER_TIMEOUT);
}

/** SO_RCVBUF in bytes. Linux doubles the value (for its bookkeeping) and reports the doubled size. */
export function setReceiveBufferSize(target: Target, bytes: number): void {
  setRanged(target, RECEIVE_BUFFER, bytes, 'bytes');
}
/** Reads SO_RCVBUF back from the kernel (on Linux, twice what was set). */
export function getReceiveBufferSize(target: Target): number {
  return getInt(target, RECEIVE_BUFFER);
}

/** SO_SNDBUF in bytes. Linux doubles the value (for its bookkeeping) and reports the doubled size. */
export function setSendBufferSize(target: Target, bytes: number): void {
  setRanged(target, SEND_BUFFER, bytes, 'bytes');
}
/** Reads SO_SNDBUF back from the kernel (on Linux, twice what was set). */
export function getSendBufferSize(target: Target): number {
  return getInt(target, SEND_BUFFER);
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
  const value = validateName(option, name, 'name');
  writeName(fdOf(target), option, value);
}
/** Reads TCP_CONGESTION back from the kernel: the algorithm's name, e.g. `'bbr'` or `'cubic'`. */
export function getCongestionControl(target: Target): string {
  const option = resolve('TCP_CONGESTION');
  return readName(fdOf(target), option);
}
