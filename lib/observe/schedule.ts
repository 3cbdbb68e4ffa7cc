/**
 * observe()'s schedule: when each connection is next sampled, how wake-ups group them, and the
 * waits between samples. One timer serves an observer whatever its connection count.
 */

/**
 * Samples due within a window of a wake-up are taken in that wake-up: a tenth of the interval, up to
 * a second (at a 10 s interval, one wake-up a second whatever the connection count), and at least 40
 * ms (a quarter of the interval below 160 ms): at most 25 wake-ups a second. A wake-up costs far more
 * than a sample (measured: ~150 µs to wake a process holding 10,000 sockets, and a sample taken alone
 * costs 3-4x one taken in a batch, its code and the kernel's paths cold), so fewer, larger batches are
 * the cheap way. A sample taken early is still scheduled from its due time: the mean interval stays
 * the one asked.
 */
export function windowOf(interval: number): number {
  return Math.max(Math.min(interval / 4, 40), Math.min(interval / 10, 1000));
}
/** Each wait is interval × [JITTER_MIN, JITTER_MIN + 1): centred on the interval. */
export const JITTER_MIN = 0.5;

/**
 * `ms` (a whole number) as V8's small integer where it fits: arithmetic on Date.now() and
 * Math.round() makes heap numbers even of whole values, and one stored in a record makes every
 * record of its shape box that field. `| 0` makes the same value a small integer.
 */
function small(ms: number): number {
  return ms >= 0 && ms <= 0x7fffffff ? ms | 0 : ms;
}

/**
 * An observer's time, in whole milliseconds since it was made. Due times from it are small
 * integers, which V8 keeps in a connection's record; Date.now()'s (and a fraction) were doubles,
 * each a separate 16-byte heap number, and their bucket keys another (measured with heap snapshots:
 * 32 bytes per observed connection). After 24.8 days they outgrow V8's small integers and are boxed
 * again: larger, as correct.
 */
export class Clock {
  private readonly origin = Date.now();
  /** The wake-up window (windowOf()). */
  readonly window: number;
  /** The shortest wait: the interval times JITTER_MIN. */
  readonly shortestWait: number;

  constructor(private readonly interval: number) {
    // At least 1: the schedule's buckets are this wide (windowOf(1) is 0.25).
    this.window = small(Math.max(1, Math.round(windowOf(interval))));
    this.shortestWait = small(Math.round(interval * JITTER_MIN));
  }

  now(): number {
    return small(Date.now() - this.origin);
  }

  /** A wait: the interval times [JITTER_MIN, JITTER_MIN + 1). */
  wait(): number {
    return small(Math.round(this.interval * (JITTER_MIN + Math.random())));
  }
}

/** What the schedule holds: a due time, its bucket, and its place in that bucket (-1: not in the schedule). */
export interface Scheduled {
  next: number;
  bucket: number;
  index: number;
}

interface Bucket<T> {
  items: T[];
  /** The earliest due time pushed into it (after removals, a lower bound: a wake-up may find nothing due). */
  min: number;
}

/**
 * observe()'s schedule: connections in buckets of `width` milliseconds by due time (a timing wheel
 * keyed by due time / width). A wake-up takes every connection due by then in one pass over its
 * buckets' arrays, and a connection goes in or out in constant time: no heap to sift through, whose
 * every level is another connection's record, cold in memory at 5,000 connections. A connection that
 * ends leaves its bucket at once (§2.5: a closed socket is never held until its next due time).
 */
export class Schedule<T extends Scheduled> {
  private readonly buckets = new Map<number, Bucket<T>>();
  private count = 0;

  constructor(private readonly width: number) {}

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    const key = Math.floor(item.next / this.width);
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = { items: [], min: Infinity }));
    item.bucket = key;
    item.index = bucket.items.length;
    bucket.items.push(item);
    if (item.next < bucket.min) bucket.min = item.next;
    this.count++;
  }

  /** Takes `item` out wherever it is (a no-op if it is not in the schedule). */
  remove(item: T): void {
    if (item.index < 0) return;
    const bucket = this.buckets.get(item.bucket);
    if (!bucket || bucket.items[item.index] !== item) return;
    const last = bucket.items.pop()!;
    if (last !== item) {
      bucket.items[item.index] = last;
      last.index = item.index;
    }
    item.index = -1;
    this.count--;
    if (bucket.items.length === 0) this.buckets.delete(item.bucket);
  }

  /** The earliest due time in the schedule, or Infinity (a lower bound after removals). */
  earliest(): number {
    let earliest = Infinity;
    for (const bucket of this.buckets.values()) if (bucket.min < earliest) earliest = bucket.min;
    return earliest;
  }

  /**
   * Takes every item due by `until` out of the schedule, then calls `each` with each of them (which
   * may push them back: they land in later buckets, never in the pass under way).
   */
  takeDue(until: number, each: (item: T) => void): void {
    const last = Math.floor(until / this.width);
    const due: T[] = [];
    for (const [key, bucket] of this.buckets) {
      if (key > last) continue;
      if (key < last) {
        this.buckets.delete(key);
        for (const item of bucket.items) {
          item.index = -1;
          due.push(item);
        }
        continue;
      }
      // The bucket `until` falls in: what is due leaves, the rest stays.
      const kept: T[] = [];
      let min = Infinity;
      for (const item of bucket.items) {
        if (item.next <= until) {
          item.index = -1;
          due.push(item);
        } else {
          item.index = kept.length;
          kept.push(item);
          if (item.next < min) min = item.next;
        }
      }
      if (kept.length > 0) {
        bucket.items = kept;
        bucket.min = min;
      } else this.buckets.delete(key);
    }
    this.count -= due.length;
    for (const item of due) each(item);
  }

  clear(): void {
    for (const bucket of this.buckets.values()) for (const item of bucket.items) item.index = -1;
    this.buckets.clear();
    this.count = 0;
  }
}
