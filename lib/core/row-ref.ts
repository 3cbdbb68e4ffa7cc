/**
 * A row its caller resolves once and then holds, in a module-level constant: the one-option calls
 * read one property per call where resolve()'s Map lookup cost 40 ns (its memory is cold again
 * after every syscall: npm run bench, issue 29).
 */
import { resolve, type Resolved } from './syscall';
import type { OptionName } from './table';

export interface RowRef {
  readonly name: OptionName;
  resolved: Resolved | null;
}

/** A holder for the row `name`, resolved at its first use by resolveRef(). */
export function rowRef(name: OptionName): RowRef {
  return { name, resolved: null };
}

/** resolve() for a row its caller holds. Throws as resolve() does (and tries again next time). */
export function resolveRef(ref: RowRef): Resolved {
  return ref.resolved ?? (ref.resolved = resolve(ref.name));
}
