/**
 * Applying a compiled tuning: to an fd (one crossing for the ints, one for each struct or name), to a
 * target (its fd looked up at every call; a server's fields checked against what its accepted
 * sockets would hold), tune() and createTuner().
 */
import { netClasses } from '../core/builtins';
import { applyQueued, getIntOption, lookup, queue, syscallError, type Resolved } from '../core/syscall';
import { SyscallError, errnoName } from '../core/errors';
import { fdOf, type Target } from '../node/target';
import { writeLinger, writeName, type Linger } from '../options/values';
import { compileTuning, type Plan, type Tuning } from './tuning';
import { refuseUnholdable } from './listener';
import { planOf } from './plan-cache';
import { NOT_THIS_SOCKET } from './readback';

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

/**
 * Applies a validated tuning to an fd: one crossing for the ints, one for each struct or name.
 * `before`: int options set first, in the same crossing (dial()'s pre-connect fields).
 */
export function applyPlanToFd(fd: number, plan: Plan, before: readonly (readonly [Resolved, number])[] = NOTHING_BEFORE): void {
  try {
    applyPlanFields(fd, plan, before);
  } catch (err) {
    throw namingMptcp(fd, err);
  }
}

const NOTHING_BEFORE: readonly (readonly [Resolved, number])[] = [];

function applyPlanFields(fd: number, plan: Plan, before: readonly (readonly [Resolved, number])[]): void {
  const { fields, intCount } = plan;
  const first = before.length;
  for (let i = 0; i < first; i++) queue(i, before[i]![0], before[i]![1]);
  for (let i = 0; i < intCount; i++) queue(first + i, fields[i]!.option, fields[i]!.value as number);
  if (first + intCount > 0) applyQueued(fd, first + intCount);
  if (fields.length === intCount) return;
  const applied = [...before.map(([option]) => option.name), ...fields.slice(0, intCount).map((f) => f.option.name)];
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
  if (target instanceof netClasses().Server) refuseUnholdable(target, plan);
  applyPlanToFd(fd, plan);
}

/**
 * Applies `tuning` to `target` (a connected socket, a listening server, or an fd). An unknown field
 * (a typo such as `keepalive`) is ERR_INVALID_ARG_VALUE; any invalid value throws
 * InvalidArgumentError and nothing is changed. If the kernel refuses an option, the SyscallError's
 * `applied` lists the options already set.
 */
export function tune(target: Target, tuning: Tuning): void {
  // Compiled once per tuning object, and again whenever its fields change (plan-cache.ts).
  applyPlan(target, planOf(tuning));
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
