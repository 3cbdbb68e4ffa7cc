/**
 * observe()'s schedule: a min-heap of connections by next sample time, so that one timer serves an
 * observer whatever its connection count.
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

/** What the schedule holds: a due time, and its own place in the heap (-1: not in it). */
export interface Scheduled {
  next: number;
  index: number;
}

/**
 * A min-heap of connections by next sample time: one timer per observer, whatever the count. Each
 * entry knows its index, so a connection that ends leaves the heap at once: a closed socket is never
 * held until its next due time (§2.5).
 */
export class Schedule<T extends Scheduled> {
  private readonly heap: T[] = [];
  get size(): number {
    return this.heap.length;
  }
  peek(): T | undefined {
    return this.heap[0];
  }
  private place(item: T, i: number): void {
    this.heap[i] = item;
    item.index = i;
  }
  private up(i: number): void {
    const h = this.heap;
    const item = h[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.next <= item.next) break;
      this.place(h[parent]!, i);
      i = parent;
    }
    this.place(item, i);
  }
  private down(i: number): void {
    const h = this.heap;
    const item = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let best = item.next;
      if (l < h.length && h[l]!.next < best) {
        m = l;
        best = h[l]!.next;
      }
      if (r < h.length && h[r]!.next < best) m = r;
      if (m === i) break;
      this.place(h[m]!, i);
      i = m;
    }
    this.place(item, i);
  }
  push(item: T): void {
    this.heap.push(item);
    this.up(this.heap.length - 1);
  }
  pop(): T | undefined {
    const top = this.heap[0];
    if (top) this.remove(top);
    return top;
  }
  /** Takes `item` out wherever it is (a no-op if it is not in the heap). */
  remove(item: T): void {
    const h = this.heap;
    const i = item.index;
    if (i < 0 || h[i] !== item) return;
    item.index = -1;
    const last = h.pop()!;
    if (last === item) return;
    this.place(last, i);
    this.up(i);
    this.down(last.index);
  }
  clear(): void {
    for (const item of this.heap) item.index = -1;
    this.heap.length = 0;
  }
}
