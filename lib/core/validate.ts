/**
 * Argument checks, all in one place, each throwing InvalidArgumentError in Node's wording before
 * any syscall is made.
 */
import { InvalidArgumentError, bounded, describeReceived } from './errors';

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

export function invalidType(name: string, expected: string, value: unknown): InvalidArgumentError {
  name = bounded(name);
  return new InvalidArgumentError('ERR_INVALID_ARG_TYPE', name, `The "${name}" argument must be ${expected}. ${describeReceived(value)}`);
}

export function outOfRange(name: string, expected: string, value: unknown): InvalidArgumentError {
  name = bounded(name);
  return new InvalidArgumentError('ERR_OUT_OF_RANGE', name, `The value of "${name}" is out of range. It must be ${expected}. ${describeReceived(value)}`);
}

/** For invalidValue: the refusal is about the argument's context, not its value (nothing to show). */
export const NOT_SHOWN: unique symbol = Symbol('not shown');

/** A refused value; `value` is described after the reason unless it is `NOT_SHOWN`. */
export function invalidValue(name: string, reason: string, value: unknown): InvalidArgumentError {
  name = bounded(name);
  const received = value === NOT_SHOWN ? '' : ` ${describeReceived(value)}`;
  return new InvalidArgumentError('ERR_INVALID_ARG_VALUE', name, `The argument '${name}' ${reason}.${received}`);
}

/** An integer number in [min, max]; `unit` only decorates the message. */
export function validateInteger(value: unknown, name: string, min: number, max: number, unit?: string): number {
  if (typeof value !== 'number') throw invalidType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max || Object.is(value, -0)) {
    // -0 passes Number.isInteger and compares equal to 0; it is refused so that no caller relies on
    // a sign the kernel cannot see.
    const suffix = unit ? ` (${unit})` : '';
    throw outOfRange(name, `an integer >= ${min} && <= ${max}${suffix}`, value);
  }
  return value;
}

export function validateBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidType(name, 'of type boolean', value);
  return value;
}

/**
 * `value instanceof Class`, for an argument: false for a non-object, and a Proxy whose trap throws
 * is an InvalidArgumentError instead of the trap's own error.
 */
export function isInstance(value: unknown, Class: abstract new (...args: never[]) => unknown, name: string): boolean {
  try {
    return value instanceof Class;
  } catch {
    throw invalidValue(name, 'could not be inspected (a Proxy trap or getter threw)', NOT_SHOWN);
  }
}

/** An options argument must be a non-null, non-array object. */
export function ensureOptionsObject(value: unknown, name: string): asserts value is object {
  if (value === null || typeof value !== 'object') throw invalidType(name, 'of type object', value);
  let isArray: boolean;
  try {
    isArray = Array.isArray(value);
  } catch {
    // Array.isArray throws on a revoked Proxy.
    throw invalidValue(name, 'could not be read (a revoked Proxy)', NOT_SHOWN);
  }
  if (isArray) throw invalidType(name, 'of type object', value);
}

/** The error for a field the options object may not have: a typo is never silently ignored. */
export function unknownField(name: string, key: string, known: readonly string[]): InvalidArgumentError {
  return invalidValue(`${name}.${key}`, `is not a known field (known: ${known.join(', ')})`, undefined);
}

/** What reading an options object threw, as an InvalidArgumentError (a getter or Proxy trap threw). */
export function unreadable(err: unknown, name: string): InvalidArgumentError {
  if (err instanceof InvalidArgumentError) return err;
  return invalidValue(name, 'could not be read (a getter or Proxy trap threw)', NOT_SHOWN);
}

const { hasOwnProperty } = Object.prototype;

/**
 * Whether `key`, from a for-in walk of `object`, is its own. The walks of the hot calls use this, not
 * Object.hasOwn: V8 optimizes `hasOwnProperty.call()` inside a for-in to a map check, and
 * Object.hasOwn cost 26 ns per key there (setKeepAlive's options, tune()'s cached tuning).
 */
export function isOwnKey(object: object, key: string): boolean {
  return hasOwnProperty.call(object, key);
}

/**
 * True if two snapshots made by readOptions() (no undefined values) have the same keys and values,
 * compared with Object.is (-0 is not 0). The field `nested` holds an object whose fields the caller
 * compares itself (a tuning's keepAlive, dial()'s tuning): two objects there count as the same here;
 * an object and anything else do not. The one-entry caches of plans compare a call's options so.
 */
export function sameSnapshot(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>, nested: string): boolean {
  let keys = 0;
  for (const key in a) {
    const x = a[key];
    const y = b[key];
    const bothObjects = key === nested && typeof x === 'object' && typeof y === 'object';
    if (!bothObjects && !Object.is(x, y)) return false;
    keys++;
  }
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- counting b's keys (for-in allocates nothing; Object.keys would)
  for (const _key in b) keys--;
  return keys === 0;
}

/**
 * A record of any string keys (or undefined), read once into a snapshot: own enumerable fields only,
 * a getter or Proxy trap that throws becomes an InvalidArgumentError.
 */
export function readRecord(value: unknown, name: string): Record<string, unknown> {
  if (value === undefined) return {};
  ensureOptionsObject(value, name);
  const snapshot: Record<string, unknown> = {};
  try {
    for (const key in value) if (isOwnKey(value, key)) snapshot[key] = (value as Record<string, unknown>)[key];
  } catch (err) {
    throw unreadable(err, name);
  }
  return snapshot;
}

/**
 * A plain options object (or undefined), read once into a snapshot: each own enumerable field is
 * read once (a getter is called once, so the value validated is the value applied); a key not in
 * `known` is refused; a field inherited from the object's prototype is never applied. A getter or
 * Proxy trap that throws becomes an InvalidArgumentError.
 */
export function readOptions<K extends string>(value: unknown, name: string, known: readonly K[]): Partial<Record<K, unknown>> {
  if (value === undefined) return {};
  ensureOptionsObject(value, name);
  const snapshot: Partial<Record<K, unknown>> = {};
  // (No callback per field: options are read at every dial(), and a closure per call is garbage.)
  try {
    for (const key in value) {
      if (!isOwnKey(value, key)) continue;
      if (!(known as readonly string[]).includes(key)) throw unknownField(name, key, known);
      const field = (value as Record<string, unknown>)[key];
      if (field !== undefined) snapshot[key as K] = field;
    }
  } catch (err) {
    throw unreadable(err, name);
  }
  return snapshot;
}

// The intrinsic accessors of views: a subclass (or an own property) may override `byteLength`,
// `buffer` or `byteOffset` and lie; these cannot be overridden.
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object;
const accessor = (proto: object, key: string) => Object.getOwnPropertyDescriptor(proto, key)!.get! as (this: unknown) => unknown;
const TYPED_ARRAY = {
  buffer: accessor(typedArrayProto, 'buffer'),
  byteOffset: accessor(typedArrayProto, 'byteOffset'),
  byteLength: accessor(typedArrayProto, 'byteLength'),
};
const DATA_VIEW = {
  buffer: accessor(DataView.prototype, 'buffer'),
  byteOffset: accessor(DataView.prototype, 'byteOffset'),
  byteLength: accessor(DataView.prototype, 'byteLength'),
};
const typedArrayTag = Object.getOwnPropertyDescriptor(typedArrayProto, Symbol.toStringTag)!.get! as (this: unknown) => unknown;

/**
 * A copy of the bytes of a Buffer, TypedArray or DataView, taken now through the intrinsic
 * accessors: what was validated is exactly what reaches the kernel, whatever runs later (a getter
 * that grows or shrinks a resizable buffer, a subclass lying about its length, another thread
 * writing a SharedArrayBuffer). A view of a detached buffer is refused, never sent as zero bytes.
 */
export function copyBytes(value: unknown, name: string, maxLength: number): Uint8Array {
  if (!ArrayBuffer.isView(value)) throw invalidType(name, 'an instance of Buffer, TypedArray or DataView', value);
  const parts = typedArrayTag.call(value) === undefined ? DATA_VIEW : TYPED_ARRAY;
  let source: Uint8Array;
  try {
    // Constructing a view over a detached buffer throws, even with length 0.
    source = new Uint8Array(parts.buffer.call(value) as ArrayBuffer, parts.byteOffset.call(value) as number, parts.byteLength.call(value) as number);
  } catch {
    throw invalidValue(name, 'is a view of a detached (or shrunk) ArrayBuffer', NOT_SHOWN);
  }
  if (source.byteLength > maxLength) throw outOfRange(`${name}.byteLength`, `<= ${maxLength}`, source.byteLength);
  return source.slice();
}
