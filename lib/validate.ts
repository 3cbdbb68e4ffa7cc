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

/**
 * A plain options object (or undefined), read once into a snapshot: a getter is called once, so the
 * value validated is the value applied, and a getter or Proxy trap that throws becomes an
 * InvalidArgumentError instead of escaping. Unknown keys are refused so that a typo is never
 * silently ignored.
 */
export function readOptions<K extends string>(
  value: unknown,
  name: string,
  known: readonly K[],
): Partial<Record<K, unknown>> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidType(name, 'of type object', value);
  }
  const snapshot: Partial<Record<K, unknown>> = {};
  let key = '';
  try {
    for (key of Object.keys(value)) {
      if (!(known as readonly string[]).includes(key)) {
        throw invalidValue(`${name}.${key}`, `is not a known field (known: ${known.join(', ')})`, undefined);
      }
      const field = (value as Record<string, unknown>)[key];
      if (field !== undefined) snapshot[key as K] = field;
    }
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    throw invalidValue(key ? `${name}.${key}` : name, 'could not be read (a getter or Proxy trap threw)', undefined);
  }
  return snapshot;
}

/** Bytes of a Buffer, Uint8Array or any other ArrayBufferView, without copying. */
export function validateBytes(value: unknown, name: string, maxLength: number): Uint8Array {
  if (!ArrayBuffer.isView(value)) throw invalidType(name, 'an instance of Buffer, TypedArray or DataView', value);
  if (value.byteLength > maxLength) {
    throw outOfRange(`${name}.byteLength`, `<= ${maxLength}`, value.byteLength);
  }
  return value instanceof Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}
