/**
 * Every instrument observe() exports, one row each: name, kind, unit, attributes, source. Both
 * exporters (OpenTelemetry, prom-client), their Prometheus names, the guide's metric table and its
 * queries (in both exporters' spellings) are derived from these rows; nothing restates them.
 *
 * Connection instruments follow gRPC's gRFC A80 ("Export TCP Telemetry from gRPC") under the neutral
 * prefix `network.tcp.`, each from one field of `struct tcp_info`. What is the package's own (the
 * namespace defaults, drift per field) is under `socket_knobs.`, outside the namespaces OpenTelemetry's
 * semantic conventions own.
 */
import type { TcpInfo } from '../options/tcpinfo';

export type InstrumentKind = 'histogram' | 'counter' | 'gauge';

/**
 * connection: recorded from each sample of a connection; listener: read from each listening socket
 * at collection; tuning: counted over the observed connections at collection; process: read once per
 * process (its network namespace) at collection.
 */
export type InstrumentScope = 'connection' | 'listener' | 'tuning' | 'process';

export interface Instrument {
  /** The OpenTelemetry instrument name (no unit in it: the unit is the instrument's own). */
  readonly name: string;
  readonly kind: InstrumentKind;
  /** UCUM, as OpenTelemetry takes it. */
  readonly unit: string;
  readonly description: string;
  /** Where the value comes from, for the docs: a tcp_info field, a sysctl, the observer. */
  readonly source: string;
  readonly scope: InstrumentScope;
  /** Attributes this instrument adds to the caller's (and `socket_knobs.role`, except process scope). */
  readonly attributes: readonly string[];
  /** How prom-client's AggregatorRegistry combines cluster workers' values. */
  readonly aggregator: 'sum' | 'max' | 'first';
  /** Histograms: bucket boundaries in the instrument's unit. */
  readonly buckets?: readonly number[];
  /** Connection histograms: a sample's value; connection counters: the cumulative total. Undefined: none. */
  readonly read?: (info: TcpInfo) => number | undefined;
  /** Process gauges: the sysctl under /proc/sys/net/ipv4 it reads. */
  readonly sysctl?: string;
}

/**
 * The attribute saying which end of the connection the process is (`server` or `client`). Custom,
 * so in the package's own namespace: `network.*` belongs to OpenTelemetry's semantic conventions.
 */
export const ROLE_ATTRIBUTE = 'socket_knobs.role';
/** The Tuning field path a drift gauge counts (`keepAlive.interval`). */
export const FIELD_ATTRIBUTE = 'socket_knobs.field';

const US = 1e-6;

// Seconds-scale buckets for the RTT histograms (10 µs .. 10 s), byte-rate buckets for the rate: both
// exporters use them (OpenTelemetry through the instrument's bucket advice, which a user's View overrides).
export const RTT_BUCKETS: readonly number[] = [0.00001, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
export const RATE_BUCKETS: readonly number[] = [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

const micro = (v: number | undefined): number | undefined => (v === undefined ? undefined : v * US);

function connection(
  kind: 'histogram' | 'counter',
  name: string,
  unit: string,
  source: string,
  description: string,
  read: (info: TcpInfo) => number | undefined,
): Instrument {
  const buckets = kind === 'histogram' ? (unit === 's' ? RTT_BUCKETS : RATE_BUCKETS) : undefined;
  return { name, kind, unit, description, source, scope: 'connection', attributes: [], aggregator: 'sum', read, ...(buckets ? { buckets } : {}) };
}

function sysctl(name: string, unit: string, description: string): Instrument {
  return {
    name: `socket_knobs.sysctl.${name}`,
    kind: 'gauge',
    unit,
    description,
    source: `net.ipv4.${name}`,
    scope: 'process',
    attributes: [],
    // Cluster workers share their network namespace: one value, not a sum of them.
    aggregator: 'first',
    sysctl: name,
  };
}

export const INSTRUMENTS: readonly Instrument[] = [
  connection('histogram', 'network.tcp.min_rtt', 's', 'tcpi_min_rtt', 'Minimum round-trip time seen on the connection', (i) => micro(i.minRtt)),
  connection('histogram', 'network.tcp.rtt', 's', 'tcpi_rtt', 'Smoothed round-trip time', (i) => micro(i.rtt)),
  connection('histogram', 'network.tcp.delivery_rate', 'By/s', 'tcpi_delivery_rate', 'Delivery rate, when the connection was not application-limited', (i) =>
    i.deliveryRateAppLimited ? undefined : i.deliveryRate,
  ),
  connection('counter', 'network.tcp.packets_sent', '{packet}', 'tcpi_data_segs_out', 'Data segments sent, retransmissions included', (i) => i.dataSegsOut),
  connection('counter', 'network.tcp.packets_retransmitted', '{packet}', 'tcpi_total_retrans', 'Segments retransmitted', (i) => i.totalRetrans),
  connection(
    'counter',
    'network.tcp.packets_spurious_retransmitted',
    '{packet}',
    'tcpi_dsack_dups',
    'Retransmissions the peer reported as duplicates',
    (i) => i.dsackDups,
  ),
  connection(
    'counter',
    'network.tcp.retransmission_timeouts',
    '{timeout}',
    'tcpi_total_rto (Linux 6.7+)',
    'Retransmission timeouts (RTO events), recurring ones included',
    (i) => i.totalRto,
  ),
  connection('counter', 'network.tcp.bytes_sent', 'By', 'tcpi_bytes_sent', 'Bytes sent, retransmissions included', (i) => i.bytesSent),
  connection('counter', 'network.tcp.bytes_retransmitted', 'By', 'tcpi_bytes_retrans', 'Bytes retransmitted', (i) => i.bytesRetrans),
  {
    name: 'network.tcp.tuning_drift',
    kind: 'counter',
    unit: '{sample}',
    description: 'Samples whose kernel values differ from the intended tuning (with `tuning`)',
    source: 'getsockopt of the tuned fields',
    scope: 'connection',
    attributes: [],
    aggregator: 'sum',
  },
  {
    name: 'socket_knobs.tuning.drifted_connections',
    kind: 'gauge',
    unit: '{connection}',
    description:
      'Observed connections whose kernel value of a tuned field differs from the intended tuning, per field (at their latest sample; 0 for every tuned field that holds)',
    source: 'getsockopt of the tuned fields',
    scope: 'tuning',
    attributes: [FIELD_ATTRIBUTE],
    aggregator: 'sum',
  },
  {
    name: 'network.tcp.accept_queue',
    kind: 'gauge',
    unit: '{connection}',
    description: "Connections waiting in a listener's accept queue",
    source: 'tcpi_unacked of the listener',
    scope: 'listener',
    attributes: ['server.address', 'server.port'],
    aggregator: 'max',
  },
  {
    name: 'network.tcp.accept_queue.limit',
    kind: 'gauge',
    unit: '{connection}',
    description: "A listener's backlog limit",
    source: 'tcpi_sacked of the listener',
    scope: 'listener',
    attributes: ['server.address', 'server.port'],
    aggregator: 'max',
  },
  sysctl('tcp_keepalive_time', 's', "The network namespace's default keepalive idle time"),
  sysctl('tcp_keepalive_intvl', 's', "The network namespace's default keepalive probe interval"),
  sysctl('tcp_keepalive_probes', '{probe}', "The network namespace's default keepalive probe count"),
  sysctl('tcp_retries2', '{retry}', "The network namespace's retransmissions before an established connection is dropped"),
  sysctl('tcp_syn_retries', '{retry}', "The network namespace's SYN retransmissions before a connect fails"),
  sysctl('tcp_fin_timeout', 's', "The network namespace's FIN-WAIT-2 timeout"),
  {
    name: 'socket_knobs.sysctl.tcp_congestion_control',
    kind: 'gauge',
    unit: '1',
    description: "The network namespace's default congestion control, as its `algorithm` attribute (value 1)",
    source: 'net.ipv4.tcp_congestion_control',
    scope: 'process',
    attributes: ['algorithm'],
    aggregator: 'first',
    sysctl: 'tcp_congestion_control',
  },
];

/** The instruments of one scope, in table order. */
export function instrumentsOf(scope: InstrumentScope, kind?: InstrumentKind): readonly Instrument[] {
  return INSTRUMENTS.filter((i) => i.scope === scope && (kind === undefined || i.kind === kind));
}

/** A Prometheus label name from an attribute name: each character outside [a-zA-Z0-9_] becomes `_`. */
export function labelName(attribute: string): string {
  return attribute.replace(/[^a-zA-Z0-9_]/g, '_');
}

/**
 * The name prom-client exports: dots become underscores, with the unit once (a name that already
 * says `bytes` gets no `_bytes`: network_tcp_bytes_sent_total), and _total for counters.
 */
export function promClientName(instrument: Instrument): string {
  const base = labelName(instrument.name);
  const suffix = { s: '_seconds', 'By/s': '_bytes_per_second', By: '_bytes' }[instrument.unit] ?? '';
  const word = suffix.split('_')[1];
  return `${base}${word && base.split('_').includes(word) ? '' : suffix}${instrument.kind === 'counter' ? '_total' : ''}`;
}

/**
 * The name OpenTelemetry's JS Prometheus exporter (@opentelemetry/exporter-prometheus, through
 * 0.301) gives it: dots become underscores, `_total` on monotonic sums, and never a unit suffix.
 */
export function otelPrometheusName(instrument: Instrument): string {
  return `${labelName(instrument.name)}${instrument.kind === 'counter' ? '_total' : ''}`;
}

export type Spelling = 'prom-client' | 'OpenTelemetry';

/** A guide query: `{instrument.name}` placeholders become each exporter's series names. */
export interface Query {
  readonly title: string;
  readonly promql: string;
  /** An alerting rule's threshold: the query is an alert expression. */
  readonly alert?: string;
}

export const QUERIES: readonly Query[] = [
  {
    title: 'p99 smoothed RTT per server name, over 5 minutes',
    promql: 'histogram_quantile(0.99, sum by (le, server_name) (rate({network.tcp.rtt}_bucket[5m])))',
  },
  {
    title: 'retransmitted share of data segments',
    promql: 'sum(rate({network.tcp.packets_retransmitted}[5m])) / sum(rate({network.tcp.packets_sent}[5m]))',
  },
  {
    title: 'median delivery rate (samples not application-limited)',
    promql: 'histogram_quantile(0.5, sum by (le) (rate({network.tcp.delivery_rate}_bucket[5m])))',
  },
  {
    title: 'accept queue near its limit',
    promql: '{network.tcp.accept_queue} / {network.tcp.accept_queue.limit} > 0.8',
    alert: 'AcceptQueueNearLimit',
  },
  {
    title: 'which instance holds connections whose tuning drifted, and which field',
    promql: 'sum by (instance, socket_knobs_field) ({socket_knobs.tuning.drifted_connections}) > 0',
    alert: 'SocketTuningDrifted',
  },
  {
    title: "instances whose namespace's default keepalive idle time is not the kernel's 7200 s",
    promql: '{socket_knobs.sysctl.tcp_keepalive_time} != 7200',
  },
  {
    title: 'processes per default congestion control',
    promql: 'count by (algorithm) ({socket_knobs.sysctl.tcp_congestion_control})',
  },
];

/** A query in one exporter's spelling. */
export function spell(query: Query, spelling: Spelling): string {
  return query.promql.replace(/\{([a-z_.]+)\}/g, (_, name: string) => {
    const instrument = INSTRUMENTS.find((i) => i.name === name);
    if (!instrument) throw new Error(`query names an unknown instrument: ${name}`);
    return spelling === 'prom-client' ? promClientName(instrument) : otelPrometheusName(instrument);
  });
}
