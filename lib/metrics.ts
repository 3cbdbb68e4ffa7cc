/**
 * The metrics observe() exports: names following gRPC's gRFC A80 ("Export TCP Telemetry from gRPC")
 * under the neutral prefix `network.tcp.`, each from one field of `struct tcp_info`. OpenTelemetry
 * (an `@opentelemetry/api` Meter) and prom-client (a Registry) are optional peer dependencies, used
 * only when given; their instruments are made once per meter or registry and reused, so a second
 * observe() on the same registry works.
 */
import type { TcpInfo } from './options/tcpinfo';
import { NOT_SHOWN, invalidValue } from './core/validate';

/**
 * The attribute saying which end of the connection the process is (`server` or `client`). Custom,
 * so in the package's own namespace: `network.*` belongs to OpenTelemetry's semantic conventions.
 */
export const ROLE_ATTRIBUTE = 'socket_knobs.role';

/** Attribute values, as OpenTelemetry takes them. */
export type Attributes = Readonly<Record<string, string | number | boolean>>;

interface Histogram {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  /** The value of a sample, or undefined when the kernel gave none. */
  value(info: TcpInfo): number | undefined;
}

interface Counter {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  /** The cumulative value of a connection's counter, or undefined when the kernel gave none. */
  total(info: TcpInfo): number | undefined;
}

const US = 1e-6;

// Seconds-scale buckets for the RTT histograms (10 µs .. 10 s), byte-rate buckets for the rate: both
// exporters use them (OpenTelemetry through the instrument's bucket advice, which a user's View overrides).
export const RTT_BUCKETS = [0.00001, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
export const RATE_BUCKETS = [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/** The bucket boundaries of a histogram of `unit`. */
function bucketsFor(unit: string): number[] {
  return unit === 's' ? RTT_BUCKETS : RATE_BUCKETS;
}

/** Histograms: one value per sample. */
export const HISTOGRAMS: readonly Histogram[] = [
  {
    name: 'network.tcp.min_rtt',
    unit: 's',
    description: 'Minimum round-trip time seen on the connection (tcpi_min_rtt)',
    value: (i) => (i.minRtt === undefined ? undefined : i.minRtt * US),
  },
  { name: 'network.tcp.rtt', unit: 's', description: 'Smoothed round-trip time (tcpi_rtt)', value: (i) => (i.rtt === undefined ? undefined : i.rtt * US) },
  {
    name: 'network.tcp.delivery_rate',
    unit: 'By/s',
    description: 'Delivery rate, when the connection was not application-limited (tcpi_delivery_rate)',
    value: (i) => (i.deliveryRate === undefined || i.deliveryRateAppLimited ? undefined : i.deliveryRate),
  },
];

/** Counters: each sample adds the change since the connection's previous sample. */
export const COUNTERS: readonly Counter[] = [
  {
    name: 'network.tcp.packets_sent',
    unit: '{packet}',
    description: 'Data segments sent, retransmissions included (tcpi_data_segs_out)',
    total: (i) => i.dataSegsOut,
  },
  { name: 'network.tcp.packets_retransmitted', unit: '{packet}', description: 'Segments retransmitted (tcpi_total_retrans)', total: (i) => i.totalRetrans },
  {
    name: 'network.tcp.packets_spurious_retransmitted',
    unit: '{packet}',
    description: 'Retransmissions the peer reported as duplicates (tcpi_dsack_dups)',
    total: (i) => i.dsackDups,
  },
  {
    name: 'network.tcp.retransmission_timeouts',
    unit: '{timeout}',
    description: 'Retransmission timeouts (RTO events), recurring ones included (tcpi_total_rto, Linux 6.7+)',
    total: (i) => i.totalRto,
  },
  { name: 'network.tcp.bytes_sent', unit: 'By', description: 'Bytes sent, retransmissions included (tcpi_bytes_sent)', total: (i) => i.bytesSent },
  { name: 'network.tcp.bytes_retransmitted', unit: 'By', description: 'Bytes retransmitted (tcpi_bytes_retrans)', total: (i) => i.bytesRetrans },
];

export const DRIFT_COUNTER = {
  name: 'network.tcp.tuning_drift',
  unit: '{sample}',
  description: 'Samples whose kernel values differ from the intended tuning',
} as const;
export const ACCEPT_QUEUE = {
  name: 'network.tcp.accept_queue',
  unit: '{connection}',
  description: "A listener's accept queue (tcpi_unacked), with its limit (tcpi_sacked) as network.tcp.accept_queue.limit",
} as const;

/**
 * The prom-client name: dots become underscores, with the unit once (a name that already says
 * `bytes` gets no `_bytes`: network_tcp_bytes_sent_total), and _total for counters.
 */
export function promName(name: string, unit: string, counter: boolean): string {
  const base = name.replace(/\./g, '_');
  const suffix = { s: '_seconds', 'By/s': '_bytes_per_second', By: '_bytes' }[unit] ?? '';
  const word = suffix.split('_')[1];
  return `${base}${word && base.split('_').includes(word) ? '' : suffix}${counter ? '_total' : ''}`;
}

/** What a sample records, whatever the exporter. */
export interface Recorder {
  histogram(name: string, value: number, attributes: Attributes): void;
  counter(name: string, delta: number, attributes: Attributes): void;
  gauge(name: string, value: number, attributes: Attributes): void;
}

// ---------------------------------------------------------------------------------------------
// OpenTelemetry.

interface OtelMeter {
  createHistogram(
    name: string,
    options?: { unit?: string; description?: string; advice?: { explicitBucketBoundaries?: number[] } },
  ): { record(value: number, attributes?: Attributes): void };
  createCounter(name: string, options?: { unit?: string; description?: string }): { add(value: number, attributes?: Attributes): void };
  createObservableGauge(
    name: string,
    options?: { unit?: string; description?: string },
  ): {
    addCallback(cb: (result: { observe(value: number, attributes?: Attributes): void }) => void): void;
  };
}

/** Gauges are observed: the latest value per attribute set, reported when the SDK collects. */
type GaugeValues = Map<string, { value: number; attributes: Attributes }>;

const otelRecorders = new WeakMap<object, Recorder>();

/** A recorder over `meter`, made once per meter. */
export function otelRecorder(meter: unknown): Recorder {
  if (
    meter === null ||
    typeof meter !== 'object' ||
    typeof (meter as OtelMeter).createHistogram !== 'function' ||
    typeof (meter as OtelMeter).createCounter !== 'function'
  ) {
    throw invalidValue('options.meter', 'must be an @opentelemetry/api Meter (createHistogram, createCounter)', meter);
  }
  let recorder = otelRecorders.get(meter);
  if (recorder) return recorder;
  const m = meter as OtelMeter;
  const histograms = new Map(
    HISTOGRAMS.map((h) => [
      h.name,
      m.createHistogram(h.name, { unit: h.unit, description: h.description, advice: { explicitBucketBoundaries: bucketsFor(h.unit) } }),
    ]),
  );
  const counters = new Map([...COUNTERS, DRIFT_COUNTER].map((c) => [c.name, m.createCounter(c.name, { unit: c.unit, description: c.description })]));
  const gauges = new Map<string, GaugeValues>();
  for (const name of [ACCEPT_QUEUE.name, `${ACCEPT_QUEUE.name}.limit`]) {
    const values: GaugeValues = new Map();
    gauges.set(name, values);
    m.createObservableGauge(name, { unit: ACCEPT_QUEUE.unit, description: ACCEPT_QUEUE.description }).addCallback((result) => {
      for (const { value, attributes } of values.values()) result.observe(value, attributes);
    });
  }
  recorder = {
    histogram: (name, value, attributes) => histograms.get(name)!.record(value, attributes),
    counter: (name, delta, attributes) => counters.get(name)!.add(delta, attributes),
    gauge: (name, value, attributes) => gauges.get(name)!.set(JSON.stringify(attributes), { value, attributes }),
  };
  otelRecorders.set(meter, recorder);
  return recorder;
}

// ---------------------------------------------------------------------------------------------
// prom-client.

interface PromMetric {
  labels?(labels: Record<string, string>): unknown;
  observe?(labels: Record<string, string>, value: number): void;
  inc?(labels: Record<string, string>, value: number): void;
  set?(labels: Record<string, string>, value: number): void;
}
interface PromModule {
  Histogram: new (config: object) => PromMetric;
  Counter: new (config: object) => PromMetric;
  Gauge: new (config: object) => PromMetric;
}

/** prom-client's label names: dots become underscores. */
function labelName(attribute: string): string {
  return attribute.replace(/[^a-zA-Z0-9_]/g, '_');
}

const promRecorders = new WeakMap<object, { labels: readonly string[]; recorder: Recorder }>();

/**
 * A recorder over a prom-client `registry`, made once per registry with the label names of
 * `attributes`; a later observe() on the same registry must use the same attribute names (prom-client
 * fixes a metric's labels when it is made).
 */
export function promRecorder(registry: unknown, attributes: Attributes): Recorder {
  if (registry === null || typeof registry !== 'object' || typeof (registry as { registerMetric?: unknown }).registerMetric !== 'function') {
    throw invalidValue('options.registry', 'must be a prom-client Registry', registry);
  }
  const labels = Object.keys(attributes).map(labelName).sort();
  const existing = promRecorders.get(registry);
  if (existing) {
    if (existing.labels.join() !== labels.join()) {
      throw invalidValue(
        'options.attributes',
        `must have the attribute names of the first observe() on this registry (${existing.labels.join(', ')}): prom-client fixes a metric's labels when it is made`,
        NOT_SHOWN,
      );
    }
    return existing.recorder;
  }
  const prom = require('prom-client') as PromModule;
  const made = new Map<string, PromMetric>();
  for (const h of HISTOGRAMS) {
    made.set(
      h.name,
      new prom.Histogram({
        name: promName(h.name, h.unit, false),
        help: h.description,
        labelNames: labels,
        buckets: bucketsFor(h.unit),
        registers: [registry],
      }),
    );
  }
  for (const c of [...COUNTERS, DRIFT_COUNTER])
    made.set(c.name, new prom.Counter({ name: promName(c.name, c.unit, true), help: c.description, labelNames: labels, registers: [registry] }));
  for (const name of [ACCEPT_QUEUE.name, `${ACCEPT_QUEUE.name}.limit`]) {
    made.set(name, new prom.Gauge({ name: promName(name, '', false), help: ACCEPT_QUEUE.description, labelNames: labels, registers: [registry] }));
  }
  // observe() keeps one attribute set per connection: its labels are converted once, not at every point.
  const converted = new WeakMap<Attributes, Record<string, string>>();
  const asLabels = (a: Attributes): Record<string, string> => {
    let labels = converted.get(a);
    if (labels === undefined) {
      labels = Object.fromEntries(Object.entries(a).map(([k, v]) => [labelName(k), String(v)]));
      converted.set(a, labels);
    }
    return labels;
  };
  const recorder: Recorder = {
    histogram: (name, value, a) => made.get(name)!.observe!(asLabels(a), value),
    counter: (name, delta, a) => made.get(name)!.inc!(asLabels(a), delta),
    gauge: (name, value, a) => made.get(name)!.set!(asLabels(a), value),
  };
  promRecorders.set(registry, { labels, recorder });
  return recorder;
}
