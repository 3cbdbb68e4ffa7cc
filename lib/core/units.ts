/**
 * Units: the one place a time value is read. Every time field (keepalive idle and interval in
 * seconds, `userTimeout` in milliseconds, `observe()`'s interval, `dial()`'s connectTimeout...)
 * accepts a number in the kernel's unit for that field, as the kernel and Python take it, or a
 * string with its unit, converted exactly: `'45s'`, `'90000ms'`, `'1.5s'`, `'2m'`, `'1h'`, `'250us'`.
 * A string that does not come to a whole number of the field's unit is refused (`'1500ms'` for a
 * field in seconds), never rounded.
 *
 * A number that is valid but implausible for its unit (a keepalive idle of 30000: 8.3 hours, when
 * 30 s was meant) is applied as given, and the first time each field sees one a process warning
 * names the unit and the string form that says what was meant.
 */
import { invalidType, invalidValue, validateInteger } from './validate';
import { warn } from './errors';
import type { TimeUnit } from './table';

/** A field's unit in microseconds (BigInt: the conversion is exact). */
const UNIT_IN_US: Readonly<Record<TimeUnit, bigint>> = { microseconds: 1n, milliseconds: 1000n, seconds: 1000000n };
/** The suffixes a string may carry, in microseconds. */
const SUFFIX_IN_US: Readonly<Record<string, bigint>> = { us: 1n, '\u00b5s': 1n, ms: 1000n, s: 1000000n, m: 60000000n, h: 3600000000n };
/** How each unit is written in a string. */
export const UNIT_SUFFIX: Readonly<Record<TimeUnit, string>> = { microseconds: 'us', milliseconds: 'ms', seconds: 's' };

// Up to 15 digits, an optional fraction of up to 9, then the unit: '45s', '1.5s', '90000ms'.
const DURATION = /^(\d{1,15})(?:\.(\d{1,9}))?(us|\u00b5s|ms|s|m|h)$/;

/** A duration string in `unit`, exactly; throws InvalidArgumentError when it is not a whole number of it. */
export function parseDuration(text: string, unit: TimeUnit, name: string): number {
  const match = DURATION.exec(text);
  if (!match) {
    throw invalidValue(name, `must be a number of ${unit} or a duration string such as '45s', '90000ms', '2m' or '1h'`, text);
  }
  const [, whole, fraction = '', suffix] = match;
  const micros = BigInt(whole! + fraction) * SUFFIX_IN_US[suffix!]!;
  const scale = 10n ** BigInt(fraction.length) * UNIT_IN_US[unit];
  if (micros % scale !== 0n) throw invalidValue(name, `must come to a whole number of ${unit}`, text);
  const value = micros / scale;
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

/** Bounds of a time field; `implausible` as in the option table's rows. */
export interface TimeField {
  readonly unit: TimeUnit;
  readonly min: number;
  readonly max: number;
  readonly implausible?: { readonly above?: number; readonly below?: number; readonly except?: number } | undefined;
}

/**
 * A time value for `field`: an integer number of its unit, or a string with a unit converted
 * exactly; range-checked either way. A plausible-looking mistake in a bare number is warned about once.
 */
export function validateTime(value: unknown, name: string, field: TimeField): number {
  if (typeof value === 'string') {
    return validateInteger(parseDuration(value, field.unit, name), name, field.min, field.max, field.unit);
  }
  if (typeof value !== 'number') throw invalidType(name, 'of type number or string', value);
  const checked = validateInteger(value, name, field.min, field.max, field.unit);
  const odd = field.implausible;
  if (odd && checked !== odd.except && ((odd.above !== undefined && checked > odd.above) || (odd.below !== undefined && checked < odd.below))) {
    warnImplausible(name, checked, field.unit);
  }
  return checked;
}

const warned = new Set<string>();

/** One process warning per field: the value is applied as given, in `unit`. */
function warnImplausible(name: string, value: number, unit: TimeUnit): void {
  if (warned.has(name)) return;
  warned.add(name);
  const other: TimeUnit = unit === 'seconds' ? 'milliseconds' : 'seconds';
  warn(
    `${name} is ${value} ${unit} (${humanize(value, unit)}): this field is in ${unit}. It was applied as given; ` +
      `to say what you mean, pass a string with its unit: '${value}${UNIT_SUFFIX[unit]}', or '${value}${UNIT_SUFFIX[other]}' if you meant ${other}.`,
    'SOCKET_KNOBS_UNIT',
  );
}

/** `value` of `unit` in words a person checks at a glance: '8.3 hours', '90 ms'. */
export function humanize(value: number, unit: TimeUnit): string {
  const seconds = Number(BigInt(value) * UNIT_IN_US[unit]) / 1e6;
  if (seconds >= 3600) return `${+(seconds / 3600).toFixed(1)} hours`;
  if (seconds >= 60) return `${+(seconds / 60).toFixed(1)} minutes`;
  if (seconds >= 1) return `${+seconds.toFixed(3)} s`;
  return `${+(seconds * 1000).toFixed(3)} ms`;
}

/** The suffixes a duration string may end with. */
export type DurationSuffix = 'us' | 'µs' | 'ms' | 's' | 'm' | 'h';
/**
 * A time value: a number in the field's own unit (documented with each field), or a string with
 * its unit: `'45s'`, `'90000ms'`, `'1.5s'`, `'2m'`, `'1h'`.
 */
export type Duration = number | `${number}${DurationSuffix}`;
