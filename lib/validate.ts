/**
 * Argument checks, all in one place, each throwing InvalidArgumentError in Node's wording before
 * any syscall is made.
 */
import { InvalidArgumentError, describeReceived } from './errors';

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

export function invalidType(name: string, expected: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    'ERR_INVALID_ARG_TYPE',
    name,
    `The "${name}" argument must be ${expected}. ${describeReceived(value)}`,
  );
}

export function outOfRange(name: string, expected: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    'ERR_OUT_OF_RANGE',
    name,
    `The value of "${name}" is out of range. It must be ${expected}. ${describeReceived(value)}`,
  );
}

export function invalidValue(name: string, reason: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    'ERR_INVALID_ARG_VALUE',
    name,
    `The argument '${name}' ${reason}. ${describeReceived(value)}`,
  );
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

/** An options argument must be a non-null, non-array object. */
export function ensureOptionsObject(value: unknown, name: string): asserts value is object {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidType(name, 'of type object', value);
}

/** The error for a field the options object may not have: a typo is never silently ignored. */
export function unknownField(name: string, key: string, known: readonly string[]): InvalidArgumentError {
  return invalidValue(`${name}.${key}`, `is not a known field (known: ${known.join(', ')})`, undefined);
}

/** What reading an options object threw, as an InvalidArgumentError (a getter or Proxy trap threw). */
export function unreadable(err: unknown, name: string): InvalidArgumentError {
  if (err instanceof InvalidArgumentError) return err;
  return invalidValue(name, 'could not be read (a getter or Proxy trap threw)', undefined);
}

/**
 * A plain options object (or undefined), read once into a snapshot: a getter is called once, so the
 * value validated is the value applied, and a getter or Proxy trap that throws becomes an
 * InvalidArgumentError instead of escaping. Unknown keys are refused.
 */
export function readOptions<K extends string>(
  value: unknown,
  name: string,
  known: readonly K[],
): Partial<Record<K, unknown>> {
  if (value === undefined) return {};
  ensureOptionsObject(value, name);
  const snapshot: Partial<Record<K, unknown>> = {};
  try {
    for (const key in value) {
      if (!(known as readonly string[]).includes(key)) throw unknownField(name, key, known);
    }
    for (const key of known) {
      const field = (value as Record<string, unknown>)[key];
      if (field !== undefined) snapshot[key] = field;
    }
  } catch (err) {
    throw unreadable(err, name);
  }
  return snapshot;
}

/** Bytes of a Buffer, Uint8Array or any other ArrayBufferView, without copying. */
export function validateBytes(value: unknown, name: string, maxLength: number): Uint8Array {
  if (!ArrayBuffer.isView(value)) throw invalidType(name, 'an instance of Buffer, TypedArray or DataView', value);
  let view: Uint8Array;
  try {
    view = value instanceof Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  } catch {
    // A DataView (or typed array) over a detached ArrayBuffer throws on every access.
    throw invalidValue(name, 'is a view of a detached ArrayBuffer', undefined);
  }
  if (view.byteLength > maxLength) throw outOfRange(`${name}.byteLength`, `<= ${maxLength}`, view.byteLength);
  return view;
}
