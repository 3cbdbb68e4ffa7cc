/**
 * What observe()'s exporters keep: each observer's series (counters and histograms accumulated per
 * attribute set) and gauge sources, merged at each collection.
 */
import fs = require('node:fs');
import { instrumentsOf, type Instrument } from './instruments';

/** Attribute values, as OpenTelemetry takes them. */
export type Attributes = Readonly<Record<string, string | number | boolean>>;

export const HISTOGRAMS = instrumentsOf('connection', 'histogram');
export const COUNTERS = instrumentsOf('connection', 'counter');

/** Where one attribute set's samples go, by index in HISTOGRAMS and COUNTERS. */
export interface SeriesSink {
  histogram(index: number, value: number): void;
  counter(index: number, delta: number): void;
}

/** A gauge point: one instrument's value for one attribute set, now. */
export type EmitGauge = (instrument: Instrument, value: number, attributes: Attributes) => void;

/** An observer's gauges (listener and tuning scope), read at each collection. */
export type GaugeSource = (emit: EmitGauge) => void;

/** A stable key for an attribute set (its entries in name order). */
function keyOf(attributes: Attributes): string {
  return JSON.stringify(
    Object.keys(attributes)
      .sort()
      .map((k) => [k, attributes[k]]),
  );
}

/** The process's namespace defaults (scope 'process'): read at each collection, so a change shows next time. */
function emitProcessGauges(emit: EmitGauge): void {
  for (const instrument of instrumentsOf('process')) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/sys/net/ipv4/${instrument.sysctl}`, 'latin1').trim();
    } catch {
      continue; // not Linux, or no such sysctl on this kernel: no series rather than a made-up value
    }
    if (instrument.attributes.includes('algorithm')) emit(instrument, 1, { algorithm: text });
    else if (/^\d+$/.test(text)) emit(instrument, Number(text), {});
  }
}

/** Accumulated counters and histograms of one attribute set of one owner. */
export class Series implements SeriesSink {
  readonly counters = new Float64Array(COUNTERS.length);
  /** 1 where the counter was recorded at least once: a counter the kernel never gave has no series (not a 0 that claims to know). */
  readonly seen = new Uint8Array(COUNTERS.length);
  /** Per histogram: a count per bucket (the last: above every boundary), then sum and count. */
  readonly buckets: Float64Array[];
  readonly sums = new Float64Array(HISTOGRAMS.length);
  readonly counts = new Float64Array(HISTOGRAMS.length);
  /** Histograms recorded elsewhere as they come (OpenTelemetry's), or null. */
  constructor(
    readonly key: string,
    readonly attributes: Attributes,
    private readonly onHistogram: ((index: number, value: number, attributes: Attributes) => void) | null,
  ) {
    this.buckets = onHistogram ? [] : HISTOGRAMS.map((h) => new Float64Array(h.buckets!.length + 1));
  }
  histogram(index: number, value: number): void {
    if (this.onHistogram) return this.onHistogram(index, value, this.attributes);
    const bounds = HISTOGRAMS[index]!.buckets!;
    let b = 0;
    while (b < bounds.length && value > bounds[b]!) b++;
    this.buckets[index]![b]!++;
    this.sums[index]! += value;
    this.counts[index]!++;
  }
  counter(index: number, delta: number): void {
    this.counters[index]! += delta;
    this.seen[index] = 1;
  }
}

/** The owners of one exporter: their series and gauges. */
export class Owners {
  readonly series = new Map<object, Map<string, Series>>();
  readonly gauges = new Map<object, GaugeSource>();
  get size(): number {
    return new Set([...this.series.keys(), ...this.gauges.keys()]).size;
  }
  sink(owner: object, attributes: Attributes, onHistogram: ((index: number, value: number, attributes: Attributes) => void) | null): Series {
    let mine = this.series.get(owner);
    if (!mine) this.series.set(owner, (mine = new Map()));
    const key = keyOf(attributes);
    let series = mine.get(key);
    if (!series) mine.set(key, (series = new Series(key, attributes, onHistogram)));
    return series;
  }
  /** Every owner's series, those with one attribute set merged by `merge`. */
  merged<T>(make: (series: Series) => T, merge: (into: T, series: Series) => void): Map<string, T> {
    const out = new Map<string, T>();
    for (const mine of this.series.values()) {
      for (const s of mine.values()) {
        const found = out.get(s.key);
        if (found === undefined) out.set(s.key, make(s));
        else merge(found, s);
      }
    }
    return out;
  }
  /** Every gauge point now: the owners' (listener, tuning) and, while any owner is attached, the process's. */
  gaugePoints(): Map<Instrument, Map<string, { value: number; attributes: Attributes }>> {
    const points = new Map<Instrument, Map<string, { value: number; attributes: Attributes }>>();
    const emit: EmitGauge = (instrument, value, attributes) => {
      let byKey = points.get(instrument);
      if (!byKey) points.set(instrument, (byKey = new Map()));
      const key = keyOf(attributes);
      const found = byKey.get(key);
      // Two observers of one listener report it once (max); drift counts of separate observers add up.
      if (found) found.value = instrument.aggregator === 'sum' ? found.value + value : Math.max(found.value, value);
      else byKey.set(key, { value, attributes });
    };
    for (const source of this.gauges.values()) source(emit);
    if (this.gauges.size > 0) emitProcessGauges(emit);
    return points;
  }
  detach(owner: object): void {
    this.series.delete(owner);
    this.gauges.delete(owner);
  }
}

/**
 * Each connection's counter totals at its previous sample: one Float64Array, a row of
 * COUNTERS.length columns per connection (a number array per connection would box every total above
 * 2^31), rows reused as connections end.
 */
export class PreviousTotals {
  private rows = new Float64Array(64 * COUNTERS.length);
  private used = 0;
  private readonly released: number[] = [];

  /** A row, NaN (no sample yet) in every column. */
  take(): number {
    let row = this.released.pop();
    if (row === undefined) {
      row = this.used++;
      if (this.used * COUNTERS.length > this.rows.length) {
        const grown = new Float64Array(this.rows.length * 2);
        grown.set(this.rows);
        this.rows = grown;
      }
    }
    this.rows.fill(NaN, row * COUNTERS.length, (row + 1) * COUNTERS.length);
    return row;
  }

  free(row: number): void {
    this.released.push(row);
  }

  /** The change of counter `c` since the row's previous total (the whole total at the first sample); keeps `total`. */
  delta(row: number, c: number, total: number): number {
    const at = row * COUNTERS.length + c;
    const previous = this.rows[at]!;
    this.rows[at] = total;
    return Number.isNaN(previous) ? total : Math.max(0, total - previous);
  }
}
