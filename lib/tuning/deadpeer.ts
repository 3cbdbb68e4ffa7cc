/**
 * deadPeerTimeout: one deadline within which a connection whose peer stopped answering fails with
 * ETIMEDOUT, idle or with data in flight. It is no option of its own: before the first syscall it
 * expands into the keepalive timings (an idle connection) and TCP_USER_TIMEOUT (data in flight,
 * and, on Linux, the end of keepalive probing once a probe is out), the fields the option table
 * already has; everything downstream (apply, read-back, drift, re-application after Node's
 * setKeepAlive) sees only those.
 *
 * The kernel's rules the expansion respects (Linux, measured: docs/guides/linux-knobs.md):
 * - idle: keepalive probes start after `idle` seconds without traffic and repeat every `interval`;
 *   with TCP_USER_TIMEOUT set, the connection is aborted at the first keepalive tick at which the
 *   time since the last segment RECEIVED is at least the user timeout (the probe count no longer
 *   matters), so at most `userTimeout + interval` after the last segment received;
 * - busy: a connection with unacknowledged data is aborted about 0.5 s after the user timeout,
 *   counted from its first unacknowledged transmission;
 * - timers fire late by up to about 1/8 of their length.
 * Hence, for a deadline D: a margin m = max(1 s, ⌈D/8⌉) for the timers' slack, A = D - m,
 * interval = max(1 s, ⌊A/6⌋), idle = max(1 s, A - 3·interval), count 3, user timeout = A - interval/2.
 * Worst case: idle, userTimeout + interval = A + interval/2 ≤ D - m + A/12 after the last segment
 * received; busy, userTimeout + 0.5 s after the first unacknowledged write; both within D with the
 * timers' slack (test/system/dead-peer.test.js measures every case between two namespaces).
 */
import { UnsupportedOptionError } from '../core/errors';
import { invalidValue } from '../core/validate';
import { validateTime } from '../core/units';

/** The smallest deadline the kernel can honour: keepalive counts whole seconds (idle 1 s + one 1 s interval, plus the timers' slack). */
export const DEAD_PEER_MIN_MS = 3000;
/** The largest: 20 hours (its idle is 31,500 s, under Linux's TCP_KEEPIDLE limit of 32,767 s). */
export const DEAD_PEER_MAX_MS = 20 * 3600 * 1000;

/** What a deadline expands into, in the kernel's units (keepalive in seconds, the user timeout in ms). */
export interface DeadPeerExpansion {
  readonly idle: number;
  readonly interval: number;
  readonly count: number;
  readonly userTimeout: number;
}

/** The expansion of a deadline of `deadline` ms (DEAD_PEER_MIN_MS..DEAD_PEER_MAX_MS). */
export function expandDeadPeer(deadline: number): DeadPeerExpansion {
  const margin = Math.max(1000, Math.ceil(deadline / 8));
  const budget = deadline - margin;
  const interval = Math.max(1, Math.floor(budget / 6000));
  const idle = Math.max(1, Math.floor(budget / 1000) - 3 * interval);
  return { idle, interval, count: 3, userTimeout: budget - interval * 500 };
}

/** deadPeerTimeout validated: milliseconds, or a string with its unit; a bare number that looks like seconds is refused naming the unit. */
export function validateDeadPeer(value: unknown, name: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0 && value < DEAD_PEER_MIN_MS) {
    throw invalidValue(
      name,
      `is in milliseconds, and ${value} ms is below the smallest deadline the kernel can honour (${DEAD_PEER_MIN_MS / 1000} s: keepalive counts whole seconds); for seconds pass '${value}s'`,
      value,
    );
  }
  return validateTime(value, name, { unit: 'milliseconds', min: DEAD_PEER_MIN_MS, max: DEAD_PEER_MAX_MS });
}

/**
 * On a Multipath TCP socket the kernel refuses TCP_USER_TIMEOUT, without which a deadline cannot
 * be kept once data is in flight: a tuning with deadPeerTimeout is refused there, naming both,
 * before any socket exists.
 */
export function refuseDeadPeerOnMptcp(tuning: { readonly deadPeerTimeout?: unknown } | undefined, what: string): void {
  if (tuning?.deadPeerTimeout === undefined) return;
  throw new UnsupportedOptionError(
    'deadPeerTimeout',
    'Multipath TCP',
    `${what} asks for a dead-peer deadline on a Multipath TCP socket (mptcp: true), and this kernel's MPTCP sockets refuse TCP_USER_TIMEOUT, which keeps it while data is in flight`,
  );
}
