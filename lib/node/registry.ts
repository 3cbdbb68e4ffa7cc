/**
 * The per-object registry behind every hook of the attachment layer: each object's state under one
 * module-private symbol, installed once; and the guard that keeps a feature's callback from breaking
 * Node's own code path.
 */
import { warn } from '../core/errors';

export const HOOKS = Symbol('socket-knobs.hooks');

type Holder<T> = { [HOOKS]?: T };

/** `object[HOOKS]`, created by `make` the first time. */
export function registryOf<T>(object: object, make: () => T): T {
  const holder = object as Holder<T>;
  if (!Object.hasOwn(holder, HOOKS)) Object.defineProperty(holder, HOOKS, { value: make(), configurable: true, enumerable: false, writable: false });
  return holder[HOOKS]!;
}

/** The registry of `object` if it has one. */
export function existing<T>(object: object): T | undefined {
  return Object.hasOwn(object, HOOKS) ? (object as Holder<T>)[HOOKS] : undefined;
}

/** Calls `fn`, and turns what it throws into a process warning: a feature's callback never breaks Node's own code path. */
export function guarded(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    warn(err, 'SOCKET_KNOBS_HOOK');
  }
}
