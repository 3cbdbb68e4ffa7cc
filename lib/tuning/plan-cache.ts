/**
 * tune()'s compiled plans, one per tuning object: a server that passes the same tuning object for
 * every connection validates it once, and each later call costs a read of its fields.
 *
 * The cache keeps the fields' values as they were compiled. At every call the object's own
 * enumerable fields are read again, by the rules compileTuning() reads them (own enumerable keys,
 * in order, each read once), and compared with those values: a field added, removed or changed
 * (the nested keepAlive and linger objects' fields included) compiles anew, so a tuning mutated after
 * its first use applies its new values (and a typo added later is refused). The caller's object is
 * never frozen or marked. Only plain data objects are cached (no Proxy, no getter or setter when
 * snapshot): for them the second read cannot differ from the first; any other object is compiled
 * at every call, as before. An object is snapshot at its second use, not its first. An object not
 * seen before has its fields read once and compared with the last such object's (lastRead): a
 * tuning written in each call compiles only when its values change.
 */
import { types } from '../core/builtins';
import { compileRead, compileTuning, readTuning, type Plan, type TuningRead } from './tuning';
import { isOwnKey, sameSnapshot } from '../core/validate';

/** The own fields of one object as compiled: keys in order, their values, and the snapshot of each object-valued field. */
interface Snapshot {
  readonly keys: readonly string[];
  readonly values: readonly unknown[];
  readonly nested: readonly (Snapshot | undefined)[];
}

/** A compiled plan and the fields it was compiled from. */
interface Cached {
  readonly snapshot: Snapshot;
  readonly plan: Plan;
}

// An object compiled once and not (yet) seen again: its snapshot is taken at its second use. A
// snapshot costs ten times the compilation (a property descriptor per field), and most objects are
// passed once (a literal written in the call: tune(socket, { ... }), dial({ ..., tuning: { ... } })).
const SEEN_ONCE = 'seen once';
// An object that cannot be cached (a Proxy, an accessor): compiled at every use, never snapshot again.
const UNCACHEABLE = 'uncacheable';
const plans = new WeakMap<object, Cached | typeof SEEN_ONCE | typeof UNCACHEABLE>();

/** The plan for `tuning` (`name`: how errors call it): the cached one while its fields are the ones compiled, else compiled now (and cached from its second use, when it can be). */
export function planOf(tuning: unknown, name = 'tuning'): Plan {
  if (tuning === null || typeof tuning !== 'object') return compileTuning(tuning, name);
  const cached = plans.get(tuning);
  if (typeof cached === 'object' && holds(tuning, cached.snapshot)) return cached.plan;
  // (`name` only names the fields in its errors.) An object not seen before: its fields read once,
  // and compiled unless they are those of the last such object.
  const plan = cached === undefined ? planOfRead(readTuning(tuning, name), name) : compileTuning(tuning, name);
  if (cached === UNCACHEABLE) return plan;
  if (cached === undefined) {
    plans.set(tuning, SEEN_ONCE);
    return plan;
  }
  const snapshot = snapshotOf(tuning, 0);
  plans.set(tuning, snapshot ? { snapshot, plan } : UNCACHEABLE);
  return plan;
}

// The fields read from the last object compiled on its first use, and its plan: a tuning written in
// each call (dial({ ..., tuning: { ... } }) from a client) is a new object every time, and its
// compilation's garbage is what a process churning connections pays for in scavenges. Holds that
// one object's read fields (its keepAlive object, a linger object) until the next is compiled.
let lastRead: { readonly read: TuningRead; readonly plan: Plan } | undefined;

/** The plan of the fields `read`: the last one's, when they are the same fields with the same values (Object.is), else compiled now. */
function planOfRead(read: TuningRead, name: string): Plan {
  // keepAlive compared as read (its own snapshot); linger, another object, by identity.
  if (lastRead !== undefined && sameSnapshot(read.given, lastRead.read.given, 'keepAlive') && sameSnapshot(read.keepAlive, lastRead.read.keepAlive, ''))
    return lastRead.plan;
  const plan = compileRead(read, name);
  lastRead = { read, plan };
  return plan;
}

/** True if `value` still has exactly the fields `snapshot` holds (a getter that throws: false, and compileTuning says why). */
function holds(value: object, snapshot: Snapshot): boolean {
  try {
    let i = 0;
    for (const key in value) {
      if (!isOwnKey(value, key)) continue;
      if (i >= snapshot.keys.length || key !== snapshot.keys[i]) return false;
      const field = (value as Record<string, unknown>)[key];
      if (field !== snapshot.values[i]) return false;
      const nested = snapshot.nested[i];
      if (nested !== undefined && !holds(field as object, nested)) return false;
      i++;
    }
    return i === snapshot.keys.length;
  } catch {
    return false;
  }
}

/**
 * The snapshot of a plain data object's own enumerable fields (and of its object-valued fields',
 * one level down: keepAlive, linger), or null where the object cannot be cached: a Proxy, an
 * accessor, an array, deeper nesting.
 */
function snapshotOf(value: object, depth: number): Snapshot | null {
  if (types().isProxy(value) || Array.isArray(value)) return null;
  const keys: string[] = [];
  const values: unknown[] = [];
  const nested: (Snapshot | undefined)[] = [];
  for (const key in value) {
    if (!isOwnKey(value, key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(value, key)!;
    if (!('value' in descriptor)) return null;
    const field: unknown = descriptor.value;
    let inner: Snapshot | undefined;
    if (field !== null && typeof field === 'object') {
      if (depth > 0) return null;
      const snapshot = snapshotOf(field, depth + 1);
      if (!snapshot) return null;
      inner = snapshot;
    }
    keys.push(key);
    values.push(field);
    nested.push(inner);
  }
  return { keys, values, nested };
}
