/**
 * The one option table. Every socket option and level socket-knobs knows is one row here.
 *
 * Derived from it, so that adding an option is adding one row (CONTRIBUTING.md):
 * - the native support table (`src-native/table.gen.h`, written by `npm run gen`): each name
 *   wrapped in `#ifdef NAME`, so the addon exports a constant only where the platform's headers
 *   define it, exactly like Python's `hasattr(socket, 'TCP_KEEPIDLE')`;
 * - validation (value kind, range, unit) for the typed functions, tunings and raw access;
 * - the Tuning fields (`tuning`), their read-back (`getTuning`) and drift paths (`observe`);
 * - which fields hold on a listener and which must be set per connection (`inherited`);
 * - the option names as TypeScript types (`OptionName`);
 * - the reference tables in docs/options.md and the README's platform summary.
 *
 * `npm run build` fails when a generated file no longer matches these rows.
 */

/** Socket levels (the `level` argument of setsockopt). */
export const LEVELS = ['SOL_SOCKET', 'IPPROTO_TCP', 'IPPROTO_IP', 'IPPROTO_IPV6', 'IPPROTO_UDP'] as const;
export type LevelName = (typeof LEVELS)[number];

/** Address families, socket types and protocols, for the sockets socket-knobs creates itself. */
export const SOCKET_CONSTANTS = ['AF_INET', 'AF_INET6', 'SOCK_STREAM', 'SOCK_DGRAM', 'IPPROTO_MPTCP'] as const;
export type SocketConstantName = (typeof SOCKET_CONSTANTS)[number];

/** Units of an option's value, for messages, docs and the unit strings of time fields. */
export type Unit = 'seconds' | 'milliseconds' | 'microseconds' | 'bytes' | 'probes' | 'hops' | 'retries';

/** The units a time field also accepts as a string with its unit (`'45s'`, `'90000ms'`): lib/core/units.ts. */
export type TimeUnit = Extract<Unit, 'seconds' | 'milliseconds' | 'microseconds'>;

/**
 * When an option must be set to have its effect, in the order of a socket's life (Linux; measured
 * by test/unit/linux-options.test.js): dial() sets everything before `any time` on each attempt's
 * socket before connect(), listen() sets `before bind` before bind() and `before listen` between
 * bind() and listen(). Setting it later is accepted or refused depending on the protocol
 * (`refusedConnected`).
 */
export const PHASES = ['before bind', 'before listen', 'before connect', 'before connect or listen', 'any time'] as const;
export type Phase = (typeof PHASES)[number];

/** The value the kernel reports for `value` set on `row` here (Linux doubles socket buffers). */
export function reportedValue(
  row: { readonly reportedDoubledOn?: readonly NodeJS.Platform[] },
  value: number,
  platform: NodeJS.Platform = process.platform,
): number {
  return row.reportedDoubledOn?.includes(platform) ? value * 2 : value;
}

/** True when the row's phase ends before a client's SYN: dial() sets it on each attempt's socket before connect(). */
export function setBeforeConnect(row: { readonly when?: Phase }): boolean {
  return row.when !== undefined && row.when !== 'any time';
}

/** The stream protocols whose kernels differ in what a connected socket accepts. */
export type StreamProtocol = 'tcp' | 'mptcp';

/** Which sockets an option applies to; used by the tests and the docs. */
export type SocketKind = 'tcp' | 'udp' | 'any' | 'ipv6';

interface RowBase {
  /** The C macro name, as in the platform's headers. */
  readonly name: string;
  readonly level: LevelName;
  /** Sockets the option applies to. */
  readonly sockets: SocketKind;
  /** When it must be set to have its effect (see PHASES); absent where it is only read or is an alias. */
  readonly when?: Phase;
  /**
   * The protocols whose kernel refuses it (EINVAL) on a connected socket, measured on Linux by
   * test/integration/mptcp.test.js: plain TCP accepts SO_REUSEADDR or IP_FREEBIND once connected (as
   * no-ops), a Multipath TCP socket refuses them; both refuse TCP_FASTOPEN_CONNECT. Dial and the
   * MPTCP check (lib/options/mptcp.ts) read it; absent means accepted by both.
   */
  readonly refusedConnected?: readonly StreamProtocol[];
  /**
   * Whether a TCP socket accepted from a listener that has it set inherits it, per platform, where
   * measured (Linux: read back on accepted sockets by test/unit/linux-options.test.js). A platform
   * absent here does not inherit it, as far as socket-knobs knows: the conservative choice, since
   * nginx found TCP_KEEP* not inherited on macOS (nginx/nginx#709, #337). Accepted AF_UNIX sockets
   * inherit nothing on any platform. Absent where the question does not apply. tuneServer() sets
   * a field that is not inherited on each accepted socket instead (lib/core/inheritance.ts decides).
   */
  readonly inherited?: Readonly<Partial<Record<NodeJS.Platform, boolean>>>;
  /**
   * The platforms on which it may be set on a listening socket. Elsewhere it never reaches one: on
   * macOS and the BSDs SO_KEEPALIVE on a listener makes the kernel run keepalive on the listener
   * itself and reap it after idle + count x interval, so the server stops accepting with no event
   * (libuv/libuv#2474, luvit/luvit#1028, FujiNetWIFI/tnfsd#24, hgoldfish/qtnetworkng#127).
   */
  readonly listenerSafeOn?: readonly NodeJS.Platform[];
  /** True when it means something on an AF_UNIX stream socket too (buffers, linger); other rows are TCP/IP's. */
  readonly unixStream?: true;
  /** The privilege Linux requires to set it (docs, and the message of an EPERM). */
  readonly privilege?: string;
  /** What an errno means for this option beyond its usual text (TCP_CONGESTION's ENOENT). */
  readonly errnoHints?: Readonly<Partial<Record<'ENOENT' | 'EINVAL' | 'ENODEV', string>>>;
  /** True when the kernel only reports it (getsockopt) and refuses to set it. */
  readonly readOnly?: boolean;
  /**
   * The same knob under another name on other platforms: macOS spells TCP_KEEPIDLE as
   * TCP_KEEPALIVE. The typed functions use the first name the platform defines.
   */
  readonly alias?: string;
  /** The platforms whose kernel stores twice the value set and reports that (Linux's socket buffers): read-back and drift compare against it. */
  readonly reportedDoubledOn?: readonly NodeJS.Platform[];
  /** The Tuning field this row backs, as the path observe() reports drift with (TuningPath is derived from this column). */
  readonly tuning?: string;
  /** One line for the docs. */
  readonly doc: string;
}

/** An int that is 0 or 1. */
export interface BoolRow extends RowBase {
  readonly kind: 'bool';
}

/** A C int, with its range and unit. */
export interface IntRow extends RowBase {
  readonly kind: 'int';
  /** Lowest value accepted (default: INT32_MIN). */
  readonly min?: number;
  /** Highest value accepted (default: INT32_MAX). */
  readonly max?: number;
  /** Per-platform maxima (`process.platform` keys), where the kernel has its own limit. */
  readonly maxOn?: Readonly<Partial<Record<NodeJS.Platform, number>>>;
  readonly unit?: Unit;
  /**
   * Values that are valid but almost certainly a unit mistake (keepalive idle 30000: 8.3 hours, not
   * 30 s): applied, with one process warning per field naming the unit and the string form.
   */
  readonly implausible?: { readonly above?: number; readonly below?: number; readonly except?: number };
}

/** `struct linger { int l_onoff; int l_linger; }`, the linger time in seconds. */
export interface LingerRow extends RowBase {
  readonly kind: 'linger';
  readonly unit: 'seconds';
  readonly max: number;
}

/** A NUL-terminated name of at most `maxLength` printable ASCII characters. */
export interface StringRow extends RowBase {
  readonly kind: 'string';
  readonly maxLength: number;
  /** True when '' is a value (SO_BINDTODEVICE: unbind). */
  readonly allowEmpty?: boolean;
}

/** A structure the kernel fills, read-only, decoded by its own function. */
export interface StructRow extends RowBase {
  readonly kind: 'struct';
  readonly readOnly: true;
  /** The function that reads it. */
  readonly readWith: string;
}

/** The shape of a row, whatever its name (the table is checked against it). */
export type RowShape = BoolRow | IntRow | LingerRow | StringRow | StructRow;
export type ValueKind = RowShape['kind'];

const INT_MAX = 2147483647;
const INT_MIN = -2147483648;

// Linux's kernel limits (include/net/tcp.h: MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT).
// They are not in any userspace header, so they live here, next to the option they bound.
const LINUX_MAX_KEEPIDLE = 32767;
const LINUX_MAX_KEEPCNT = 127;

// Inheritance measured on Linux (test/unit/linux-options.test.js); no other platform measured yet.
const LINUX_YES = { linux: true } as const;
const LINUX_NO = { linux: false } as const;
// The keepalive rows may be set on a listener only where that is known not to reap it (see listenerSafeOn).
const KEEPALIVE_LISTENER = ['linux'] as const;

const LINUX_ONLY = ['linux'] as const;

// Measured on Linux 6.x (test/integration/mptcp.test.js): who refuses a row on a connected socket.
const MPTCP_ONLY = ['mptcp'] as const;
const TCP_AND_MPTCP = ['tcp', 'mptcp'] as const;

// A keepalive time of 10,000 s or more is almost always milliseconds given as seconds.
const KEEPALIVE_IMPLAUSIBLE = { above: 9999 } as const;

// One row per option, laid out as a table (prettier would break every row into a column of fields).
// prettier-ignore
export const OPTIONS = [
  { name: 'SO_REUSEADDR', when: 'before bind', refusedConnected: MPTCP_ONLY, inherited: LINUX_YES, level: 'SOL_SOCKET', kind: 'bool', sockets: 'any', doc: 'Allow bind() to an address whose old connections are still in TIME_WAIT (set before bind).' },
  { name: 'SO_REUSEPORT', when: 'before bind', refusedConnected: MPTCP_ONLY, inherited: LINUX_YES, level: 'SOL_SOCKET', kind: 'bool', sockets: 'any', doc: 'Let several sockets bind the same address and port; the kernel spreads connections over them.' },
  { name: 'SO_KEEPALIVE', when: 'any time', inherited: LINUX_YES, listenerSafeOn: KEEPALIVE_LISTENER, level: 'SOL_SOCKET', kind: 'bool', sockets: 'tcp', tuning: 'keepAlive.enable',
    doc: 'Send keepalive probes on an idle connection.' },
  { name: 'SO_LINGER', when: 'any time', inherited: LINUX_YES, unixStream: true, level: 'SOL_SOCKET', kind: 'linger', max: INT_MAX, unit: 'seconds', sockets: 'tcp', tuning: 'linger',
    doc: 'What close() does with unsent data: linger up to N seconds, or reset at once with 0.' },
  { name: 'SO_RCVBUF', when: 'before connect or listen', inherited: LINUX_YES, unixStream: true, reportedDoubledOn: LINUX_ONLY, level: 'SOL_SOCKET', kind: 'int', min: 0, max: INT_MAX, unit: 'bytes', sockets: 'any',
    tuning: 'receiveBufferSize', doc: 'Receive buffer size (Linux doubles the value and reports the doubled size); before connect or listen it also sets the window scale.' },
  { name: 'SO_SNDBUF', when: 'any time', inherited: LINUX_YES, unixStream: true, reportedDoubledOn: LINUX_ONLY, level: 'SOL_SOCKET', kind: 'int', min: 0, max: INT_MAX, unit: 'bytes', sockets: 'any',
    tuning: 'sendBufferSize', doc: 'Send buffer size (Linux doubles the value and reports the doubled size).' },
  { name: 'SO_TYPE', level: 'SOL_SOCKET', kind: 'int', sockets: 'any', readOnly: true, doc: 'The socket type (SOCK_STREAM, SOCK_DGRAM); read-only.' },
  { name: 'SO_ERROR', level: 'SOL_SOCKET', kind: 'int', sockets: 'any', readOnly: true, doc: 'The pending socket error, cleared by reading it; read-only.' },
  { name: 'TCP_NODELAY', when: 'any time', inherited: LINUX_YES, level: 'IPPROTO_TCP', kind: 'bool', sockets: 'tcp', tuning: 'noDelay',
    doc: 'Send small segments at once instead of coalescing them (Nagle off).' },
  { name: 'TCP_KEEPIDLE', when: 'any time', inherited: LINUX_YES, listenerSafeOn: KEEPALIVE_LISTENER, level: 'IPPROTO_TCP', kind: 'int', min: 1, max: INT_MAX, maxOn: { linux: LINUX_MAX_KEEPIDLE },
    unit: 'seconds', implausible: KEEPALIVE_IMPLAUSIBLE, sockets: 'tcp', alias: 'TCP_KEEPALIVE', tuning: 'keepAlive.idle',
    doc: 'Idle time before the first keepalive probe.' },
  { name: 'TCP_KEEPALIVE', level: 'IPPROTO_TCP', kind: 'int', min: 1, max: INT_MAX, unit: 'seconds', sockets: 'tcp',
    doc: "macOS's name for TCP_KEEPIDLE." },
  { name: 'TCP_KEEPINTVL', when: 'any time', inherited: LINUX_YES, listenerSafeOn: KEEPALIVE_LISTENER, level: 'IPPROTO_TCP', kind: 'int', min: 1, max: INT_MAX, maxOn: { linux: LINUX_MAX_KEEPIDLE },
    unit: 'seconds', implausible: KEEPALIVE_IMPLAUSIBLE, sockets: 'tcp', tuning: 'keepAlive.interval',
    doc: 'Time between keepalive probes.' },
  { name: 'TCP_KEEPCNT', when: 'any time', inherited: LINUX_YES, listenerSafeOn: KEEPALIVE_LISTENER, level: 'IPPROTO_TCP', kind: 'int', min: 1, max: INT_MAX, maxOn: { linux: LINUX_MAX_KEEPCNT },
    unit: 'probes', sockets: 'tcp', tuning: 'keepAlive.count', doc: 'Unanswered probes before the connection is dropped with ETIMEDOUT.' },
  { name: 'TCP_USER_TIMEOUT', when: 'any time', inherited: LINUX_YES, level: 'IPPROTO_TCP', kind: 'int', min: 0, max: INT_MAX, unit: 'milliseconds',
    // Under half a second is almost always seconds given as milliseconds (0 is the system default).
    implausible: { below: 500, except: 0 }, sockets: 'tcp', tuning: 'userTimeout',
    doc: 'How long sent data may stay unacknowledged before the kernel drops the connection (0: system default).' },
  { name: 'IP_TOS', when: 'any time', inherited: LINUX_YES, level: 'IPPROTO_IP', kind: 'int', min: 0, max: 255, sockets: 'any', doc: 'Type-of-service / DSCP byte of outgoing IPv4 packets.' },
  { name: 'IP_TTL', when: 'any time', inherited: LINUX_YES, level: 'IPPROTO_IP', kind: 'int', min: 1, max: 255, unit: 'hops', sockets: 'any',
    doc: 'Time-to-live of outgoing IPv4 packets.' },
  { name: 'IPV6_V6ONLY', when: 'before bind', refusedConnected: TCP_AND_MPTCP, inherited: LINUX_YES, level: 'IPPROTO_IPV6', kind: 'bool', sockets: 'ipv6',
    doc: 'An IPv6 socket that does not also accept IPv4-mapped traffic (set before bind).' },
  { name: 'IPV6_UNICAST_HOPS', when: 'any time', inherited: LINUX_YES, level: 'IPPROTO_IPV6', kind: 'int', min: -1, max: 255, unit: 'hops', sockets: 'ipv6',
    doc: 'Hop limit of outgoing IPv6 packets (-1: route default).' },

  // The Linux server's knobs beyond the seed (measured reference: shared/linux-options.md).
  { name: 'TCP_INFO', level: 'IPPROTO_TCP', kind: 'struct', readWith: 'getTcpInfo', sockets: 'tcp', readOnly: true, doc: "The kernel's view of the connection (struct tcp_info): read with getTcpInfo()." },
  { name: 'TCP_CONGESTION', level: 'IPPROTO_TCP', kind: 'string', maxLength: 15, sockets: 'tcp', when: 'any time', inherited: LINUX_YES, tuning: 'congestionControl',
    privilege: 'none for the names in net.ipv4.tcp_allowed_congestion_control; CAP_NET_ADMIN for the others',
    errnoHints: { ENOENT: 'no such algorithm here (see /proc/sys/net/ipv4/tcp_available_congestion_control)' },
    doc: 'Congestion-control algorithm (an unknown name is ENOENT).' },
  { name: 'TCP_NOTSENT_LOWAT', level: 'IPPROTO_TCP', kind: 'int', min: 0, max: INT_MAX, unit: 'bytes', sockets: 'tcp', when: 'any time', inherited: LINUX_YES,
    tuning: 'notSentLowWatermark', doc: 'Unsent bytes the write queue may hold before the socket stops being writable (0: the sysctl).' },
  { name: 'TCP_DEFER_ACCEPT', level: 'IPPROTO_TCP', kind: 'int', min: 0, max: INT_MAX, unit: 'seconds', sockets: 'tcp', when: 'before listen', inherited: LINUX_NO,
    doc: 'Wake accept() only when data arrives (read back rounded up to a retransmission boundary).' },
  { name: 'TCP_FASTOPEN', level: 'IPPROTO_TCP', kind: 'int', min: 0, max: INT_MAX, sockets: 'tcp', when: 'before listen', refusedConnected: TCP_AND_MPTCP, inherited: LINUX_NO,
    doc: "Length of the server's TCP Fast Open queue (works only where net.ipv4.tcp_fastopen has bit 2)." },
  { name: 'TCP_FASTOPEN_CONNECT', level: 'IPPROTO_TCP', kind: 'bool', sockets: 'tcp', when: 'before connect', refusedConnected: TCP_AND_MPTCP, inherited: LINUX_YES,
    doc: 'Client TCP Fast Open through plain connect() and write().' },
  { name: 'TCP_IS_MPTCP', level: 'IPPROTO_TCP', kind: 'bool', sockets: 'tcp', readOnly: true,
    doc: 'Whether the connection runs Multipath TCP (read-only; see dial({ mptcp }) and listen({ mptcp })).' },
  { name: 'TCP_QUICKACK', level: 'IPPROTO_TCP', kind: 'bool', sockets: 'tcp', when: 'any time', inherited: LINUX_NO,
    doc: 'Send ACKs at once instead of delaying them (the kernel may turn it off again).' },
  { name: 'TCP_MAXSEG', level: 'IPPROTO_TCP', kind: 'int', min: 0, max: 32767, unit: 'bytes', sockets: 'tcp', when: 'before connect or listen', inherited: LINUX_YES,
    doc: 'Maximum segment size (0 or 88..32767; accepted sockets get the effective MSS).' },
  { name: 'TCP_SYNCNT', level: 'IPPROTO_TCP', kind: 'int', min: 1, max: 127, unit: 'retries', sockets: 'tcp', when: 'before connect', inherited: LINUX_YES,
    doc: 'SYN retransmissions before connect() gives up.' },
  { name: 'TCP_WINDOW_CLAMP', level: 'IPPROTO_TCP', kind: 'int', min: 0, max: INT_MAX, unit: 'bytes', sockets: 'tcp', when: 'any time', inherited: LINUX_YES,
    doc: 'Upper bound of the advertised receive window (values below 1152 become 1152).' },
  { name: 'TCP_LINGER2', level: 'IPPROTO_TCP', kind: 'int', min: -1, max: 120, unit: 'seconds', sockets: 'tcp', when: 'any time', inherited: LINUX_YES,
    doc: 'Lifetime of orphaned FIN-WAIT-2 sockets (-1: none; 0: the sysctl tcp_fin_timeout).' },
  { name: 'TCP_CORK', level: 'IPPROTO_TCP', kind: 'bool', sockets: 'tcp', when: 'any time', inherited: LINUX_YES,
    doc: 'Hold partial segments until uncorked (at most 200 ms); a corked listener yields corked connections.' },
  { name: 'SO_MARK', level: 'SOL_SOCKET', kind: 'int', min: INT_MIN, max: INT_MAX, sockets: 'any', when: 'any time', inherited: LINUX_YES, tuning: 'mark',
    privilege: 'CAP_NET_ADMIN or CAP_NET_RAW', doc: 'Firewall / policy-routing mark of outgoing packets (a u32 passed as an int).' },
  { name: 'SO_PRIORITY', level: 'SOL_SOCKET', kind: 'int', min: INT_MIN, max: INT_MAX, sockets: 'any', when: 'any time', inherited: LINUX_NO, tuning: 'priority',
    privilege: 'none for 0..6; CAP_NET_ADMIN or CAP_NET_RAW for other values', doc: 'Queueing priority of outgoing packets (accepted sockets start at 0: set it per connection).' },
  { name: 'SO_BINDTODEVICE', level: 'SOL_SOCKET', kind: 'string', maxLength: 15, allowEmpty: true, sockets: 'any', when: 'before bind', inherited: LINUX_YES,
    privilege: 'none for the first binding; CAP_NET_RAW to change or remove it', errnoHints: { ENODEV: 'no interface of that name' },
    doc: "Bind the socket to one interface ('' unbinds; an unknown name is ENODEV)." },
  { name: 'SO_INCOMING_CPU', level: 'SOL_SOCKET', kind: 'int', min: -1, max: INT_MAX, sockets: 'any', when: 'any time', inherited: LINUX_NO,
    doc: 'CPU whose reuseport listener is preferred; on accepted sockets, the CPU that handled the connection.' },
  { name: 'SO_BUSY_POLL', level: 'SOL_SOCKET', kind: 'int', min: 0, max: INT_MAX, unit: 'microseconds', sockets: 'any', when: 'any time', inherited: LINUX_YES,
    doc: 'Busy-poll the device queue on blocking reads for up to this long.' },
  { name: 'SO_RCVLOWAT', level: 'SOL_SOCKET', kind: 'int', min: 0, max: INT_MAX, unit: 'bytes', sockets: 'any', when: 'any time', inherited: LINUX_YES,
    doc: 'Bytes that must be queued before a read wakes up (may grow SO_RCVBUF on TCP).' },
  { name: 'IP_FREEBIND', level: 'IPPROTO_IP', kind: 'bool', sockets: 'any', when: 'before bind', refusedConnected: MPTCP_ONLY, inherited: LINUX_YES,
    doc: 'Allow bind() to an address that is not (yet) configured here (also covers IPv6).' },
  { name: 'IP_TRANSPARENT', level: 'IPPROTO_IP', kind: 'bool', sockets: 'any', when: 'before bind', refusedConnected: MPTCP_ONLY, inherited: LINUX_YES,
    privilege: 'CAP_NET_ADMIN or CAP_NET_RAW to turn it on', doc: 'Transparent proxying (TPROXY): bind to and accept for non-local addresses.' },
  { name: 'IP_BIND_ADDRESS_NO_PORT', level: 'IPPROTO_IP', kind: 'bool', sockets: 'tcp', when: 'before bind', refusedConnected: MPTCP_ONLY, inherited: LINUX_YES,
    doc: 'bind() to an address without reserving a port; the port is chosen at connect().' },
  { name: 'IP_MTU_DISCOVER', level: 'IPPROTO_IP', kind: 'int', min: 0, max: 5, sockets: 'any', when: 'any time', inherited: LINUX_YES,
    doc: 'Path-MTU discovery mode: 0 DONT, 1 WANT, 2 DO, 3 PROBE, 4 INTERFACE, 5 OMIT.' },
  { name: 'IPV6_TCLASS', level: 'IPPROTO_IPV6', kind: 'int', min: -1, max: 255, sockets: 'ipv6', when: 'any time', inherited: LINUX_YES,
    doc: 'Traffic class (DSCP) of outgoing IPv6 packets (-1: default; TCP keeps the ECN bits).' },
] as const satisfies readonly RowShape[];

/** The Tuning field paths: the rows' `tuning` column, derived (a new Tuning row is a new path, with no list to update). */
export type TuningPath = Extract<(typeof OPTIONS)[number], { readonly tuning: string }>['tuning'];

/** The name of an option socket-knobs knows. */
export type OptionName = (typeof OPTIONS)[number]['name'];

/** The top-level Tuning field of a path (`keepAlive.idle`: `keepAlive`): what Tuning and TuningState must name. */
export type TuningField = TuningPath extends infer P ? (P extends `${infer Head}.${string}` ? Head : P) : never;

/** true when the unions `A` and `B` are the same set (for compile-time checks that a type names exactly the table's fields). */
export type SameNames<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** A row of the table: one of the shapes, discriminated by `kind`, with a name socket-knobs knows. */
export type OptionRow = RowShape extends infer S ? (S extends RowShape ? S & { readonly name: OptionName; readonly tuning?: TuningPath } : never) : never;
/** The options of each value kind, for the raw accessors' types. */
export type OptionNameOf<K extends ValueKind> = Extract<(typeof OPTIONS)[number], { kind: K }>['name'];
/** Every constant name the addon may export (where the platform defines it). */
export type ConstantName = LevelName | SocketConstantName | OptionName;

/** Rows by name, for O(1) lookup. */
export const OPTION_BY_NAME: ReadonlyMap<string, OptionRow> = new Map<string, OptionRow>(OPTIONS.map((row) => [row.name, row as OptionRow]));

/** The row of a name socket-knobs knows (a typo is a compile error, not a run-time one). */
export function row(name: OptionName): OptionRow {
  return OPTION_BY_NAME.get(name)!;
}

/** The rows that back Tuning fields, in the order a tuning is applied (the table's order). */
export const TUNING_ROWS = (OPTIONS as readonly OptionRow[]).filter((r): r is OptionRow & { readonly tuning: TuningPath } => r.tuning !== undefined);
