/**
 * observe()'s two exporters, both driven by the instrument table (./instruments.ts):
 *
 * - OpenTelemetry: an `@opentelemetry/api` Meter. Histograms are recorded per sample (with bucket
 *   advice fit for their unit, which a user's View overrides); counters and gauges are observable,
 *   read from the observers at collection, so what a stopped observer reported leaves with it.
 * - prom-client: a Registry. The metrics are the package's own objects speaking prom-client's metric
 *   protocol (`name`, `help`, `type`, `aggregator`, `get()`, as its Registry and AggregatorRegistry read
 *   every metric): prom-client itself is never loaded (no hidden require, no second copy), a sample
 *   costs a few additions instead of prom-client's per-update label validation and hashing, and the
 *   values are computed at each scrape.
 *
 * One exporter per meter or registry, shared by every observe() on it (and by every copy of this
 * package in the process, through a global symbol of this protocol's version): registration is
 * checked whole before anything is registered, and refused with a typed error when a name is taken
 * by anything else; the last observer's stop() unregisters it from a prom-client registry.
 */
import { SocketOptionError } from '../core/errors';
import { NOT_SHOWN, invalidValue } from '../core/validate';
import { INSTRUMENTS, labelName, promClientName, type Instrument } from './instruments';
import { COUNTERS, HISTOGRAMS, Owners, type Attributes, type GaugeSource, type Series, type SeriesSink } from './series';

export { COUNTERS, HISTOGRAMS, type Attributes, type EmitGauge, type SeriesSink } from './series';

/** An exporter, as an observer uses it. Its shape is this protocol's version (SHARED_KEY). */
export interface Exporter {
  /** The sink for `attributes`, owned by `owner` (an observer): made once per owner and attribute set. */
  series(owner: object, attributes: Attributes): SeriesSink;
  attach(owner: object, gauges: GaugeSource): void;
  /** Forgets everything `owner` reported. */
  detach(owner: object): void;
}

// Exporters by meter or registry, shared by every copy of the package in the process. The key names
// the protocol's version: a copy with another shape finds the names taken and is refused, typed.
const SHARED_KEY = Symbol.for('socket-knobs.observe-exporters.v1');
interface SharedExporters {
  otel: WeakMap<object, Exporter>;
  prom: WeakMap<object, Exporter>;
}
const shared: SharedExporters =
  ((globalThis as Record<symbol, unknown>)[SHARED_KEY] as SharedExporters | undefined) ??
  ((globalThis as Record<symbol, unknown>)[SHARED_KEY] = { otel: new WeakMap(), prom: new WeakMap() });

function wrapped(name: string, what: string, err: unknown): SocketOptionError {
  const error = invalidValue(name, `${what}: ${(err as Error)?.message ?? String(err)}`, NOT_SHOWN);
  (error as { cause?: unknown }).cause = err;
  return error;
}

// ---------------------------------------------------------------------------------------------
// OpenTelemetry.

interface ObservableResult {
  observe(value: number, attributes?: Attributes): void;
}
interface OtelMeter {
  createHistogram(
    name: string,
    options?: { unit?: string; description?: string; advice?: { explicitBucketBoundaries?: number[] } },
  ): { record(value: number, attributes?: Attributes): void };
  createObservableCounter(name: string, options?: { unit?: string; description?: string }): { addCallback(cb: (r: ObservableResult) => void): void };
  createObservableGauge(name: string, options?: { unit?: string; description?: string }): { addCallback(cb: (r: ObservableResult) => void): void };
}

/** The exporter of `meter`, made once per meter (and shared by every copy of the package). */
export function otelExporter(meter: unknown): Exporter {
  const methods = ['createHistogram', 'createObservableCounter', 'createObservableGauge'] as const;
  if (meter === null || typeof meter !== 'object' || methods.some((m) => typeof (meter as Record<string, unknown>)[m] !== 'function')) {
    throw invalidValue('options.meter', `must be an @opentelemetry/api Meter (${methods.join(', ')})`, meter);
  }
  const existing = shared.otel.get(meter);
  if (existing) return existing;
  const m = meter as OtelMeter;
  const owners = new Owners();
  let histograms: { record(value: number, attributes?: Attributes): void }[];
  try {
    histograms = HISTOGRAMS.map((h) =>
      m.createHistogram(h.name, { unit: h.unit, description: h.description, advice: { explicitBucketBoundaries: [...h.buckets!] } }),
    );
    COUNTERS.forEach((c, i) => {
      m.createObservableCounter(c.name, { unit: c.unit, description: c.description }).addCallback((result) => {
        const totals = owners.merged(
          (s) => ({ value: s.counters[i]!, seen: s.seen[i]!, attributes: s.attributes }),
          (into, s) => ((into.value += s.counters[i]!), (into.seen |= s.seen[i]!)),
        );
        for (const { value, seen, attributes } of totals.values()) if (seen) result.observe(value, attributes);
      });
    });
    // One collection reads every gauge once: the callbacks of one collection share its points.
    let points: ReturnType<Owners['gaugePoints']> | null = null;
    const gauges = INSTRUMENTS.filter((i) => i.kind === 'gauge');
    gauges.forEach((g, n) => {
      m.createObservableGauge(g.name, { unit: g.unit, description: g.description }).addCallback((result) => {
        if (n === 0 || points === null) points = owners.gaugePoints();
        for (const { value, attributes } of points.get(g)?.values() ?? []) result.observe(value, attributes);
        if (n === gauges.length - 1) points = null;
      });
    });
  } catch (err) {
    throw wrapped('options.meter', 'its instruments could not be made', err);
  }
  const record = (index: number, value: number, attributes: Attributes): void => histograms[index]!.record(value, attributes);
  const exporter: Exporter = {
    series: (owner, attributes) => owners.sink(owner, attributes, record),
    attach: (owner, gauges) => void owners.gauges.set(owner, gauges),
    detach: (owner) => owners.detach(owner),
  };
  shared.otel.set(meter, exporter);
  return exporter;
}

// ---------------------------------------------------------------------------------------------
// prom-client.

interface PromValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}
interface PromRegistry {
  registerMetric(metric: object): void;
  getSingleMetric(name: string): unknown;
  removeSingleMetric(name: string): void;
}

function labelsOf(attributes: Attributes): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const k of Object.keys(attributes)) labels[labelName(k)] = String(attributes[k]);
  return labels;
}

/** One instrument as a prom-client metric: the protocol its Registry and AggregatorRegistry read. */
class PromMetric {
  readonly help: string;
  readonly type: 'histogram' | 'counter' | 'gauge';
  readonly aggregator: string;
  constructor(
    public name: string,
    instrument: Instrument,
    private readonly values: () => PromValue[],
  ) {
    this.help = `${instrument.description} (${instrument.source})`;
    this.type = instrument.kind;
    this.aggregator = instrument.aggregator;
  }
  get(): { name: string; help: string; type: string; aggregator: string; values: PromValue[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }
  /** registry.resetMetrics(): the values are the observers' (cumulative per connection): nothing of prom-client's to reset. */
  reset(): void {}
}

/** The values of one instrument's metric at a scrape, from every owner's series or gauges. */
function promValues(
  instrument: Instrument,
  name: string,
  owners: Owners,
  labelsFor: (s: Series) => Record<string, string>,
  gaugePoints: () => ReturnType<Owners['gaugePoints']>,
): () => PromValue[] {
  if (instrument.kind === 'counter') {
    const i = COUNTERS.indexOf(instrument);
    return () => {
      const totals = owners.merged(
        (s) => ({ value: s.counters[i]!, seen: s.seen[i]!, s }),
        (into, s) => ((into.value += s.counters[i]!), (into.seen |= s.seen[i]!)),
      );
      return [...totals.values()].filter((t) => t.seen).map(({ value, s }) => ({ labels: labelsFor(s), value }));
    };
  }
  if (instrument.kind === 'histogram') {
    const i = HISTOGRAMS.indexOf(instrument);
    const bounds = instrument.buckets!;
    return () => {
      const merged = owners.merged(
        (s) => ({ s, buckets: Float64Array.from(s.buckets[i]!), sum: s.sums[i]!, count: s.counts[i]! }),
        (into, s) => {
          s.buckets[i]!.forEach((v, b) => (into.buckets[b]! += v));
          into.sum += s.sums[i]!;
          into.count += s.counts[i]!;
        },
      );
      const out: PromValue[] = [];
      for (const { s, buckets, sum, count } of merged.values()) {
        if (count === 0) continue;
        const labels = labelsFor(s);
        let acc = 0;
        bounds.forEach((le, b) => {
          acc += buckets[b]!;
          out.push({ labels: { le, ...labels }, value: acc, metricName: `${name}_bucket` });
        });
        out.push({ labels: { le: '+Inf', ...labels }, value: count, metricName: `${name}_bucket` });
        out.push({ labels, value: sum, metricName: `${name}_sum` });
        out.push({ labels, value: count, metricName: `${name}_count` });
      }
      return out;
    };
  }
  return () => [...(gaugePoints().get(instrument)?.values() ?? [])].map(({ value, attributes }) => ({ labels: labelsOf(attributes), value }));
}

/** Registers `metrics` on `r` whole or not at all: every name checked first, what was registered taken back on a throw. */
function registerAll(r: PromRegistry, metrics: readonly PromMetric[]): void {
  for (const metric of metrics) {
    let found: unknown;
    try {
      found = r.getSingleMetric(metric.name);
    } catch (err) {
      throw wrapped('options.registry', 'its getSingleMetric() threw', err);
    }
    if (found !== undefined && found !== metric) {
      throw invalidValue(
        'options.registry',
        `already has a metric named ${metric.name} that observe() did not register (another library's, or a copy of socket-knobs of another version): use another Registry`,
        NOT_SHOWN,
      );
    }
  }
  const done: PromMetric[] = [];
  try {
    for (const metric of metrics) {
      if (r.getSingleMetric(metric.name) === metric) continue;
      r.registerMetric(metric);
      done.push(metric);
    }
  } catch (err) {
    for (const metric of done) r.removeSingleMetric(metric.name);
    throw wrapped('options.registry', 'its registerMetric() threw', err);
  }
}

/** The exporter of a prom-client `registry`, made once per registry (and shared by every copy of the package). */
export function promExporter(registry: unknown): Exporter {
  const methods = ['registerMetric', 'getSingleMetric', 'removeSingleMetric'] as const;
  if (registry === null || typeof registry !== 'object' || methods.some((m) => typeof (registry as Record<string, unknown>)[m] !== 'function')) {
    throw invalidValue('options.registry', `must be a prom-client Registry (${methods.join(', ')})`, registry);
  }
  const existing = shared.prom.get(registry);
  if (existing) return existing;
  const r = registry as PromRegistry;
  const owners = new Owners();
  const labelsByKey = new Map<string, Record<string, string>>();
  const labelsFor = (s: Series): Record<string, string> => {
    let labels = labelsByKey.get(s.key);
    if (!labels) labelsByKey.set(s.key, (labels = labelsOf(s.attributes)));
    return labels;
  };
  // One scrape reads the gauges once: prom-client asks each metric in the same tick.
  let points: ReturnType<Owners['gaugePoints']> | null = null;
  let pointsAt = -1;
  const gaugePoints = (): ReturnType<Owners['gaugePoints']> => {
    const now = performance.now();
    if (points === null || now - pointsAt > 1) {
      points = owners.gaugePoints();
      pointsAt = now;
    }
    return points;
  };
  const metrics = INSTRUMENTS.map((instrument) => {
    const name = promClientName(instrument);
    return new PromMetric(name, instrument, promValues(instrument, name, owners, labelsFor, gaugePoints));
  });
  const exporter: Exporter = {
    series: (owner, attributes) => {
      if (owners.size === 0) registerAll(r, metrics);
      return owners.sink(owner, attributes, null);
    },
    attach: (owner, gauges) => {
      if (owners.size === 0) registerAll(r, metrics);
      owners.gauges.set(owner, gauges);
    },
    detach: (owner) => {
      owners.detach(owner);
      // The last observer gone: nothing of the package is left on the registry.
      if (owners.size === 0) {
        for (const metric of metrics) if (r.getSingleMetric(metric.name) === metric) r.removeSingleMetric(metric.name);
        labelsByKey.clear();
      }
    },
  };
  shared.prom.set(registry, exporter);
  return exporter;
}
