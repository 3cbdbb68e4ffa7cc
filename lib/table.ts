/**
 * The one option table. Every socket option and level socket-knobs knows is one row here.
 *
 * Three things are derived from it, so adding an option is adding one row:
 * - the native support table (`src-native/table.gen.h`, written by `npm run gen:native`): each name
 *   wrapped in `#ifdef NAME`, so the addon exports a constant only where the platform's headers
 *   define it, exactly like Python's `hasattr(socket, 'TCP_KEEPIDLE')`;
 * - the façade's validation (value kind, range) for the typed helpers in `index.ts`;
 * - the README's platform table (`npm run gen:docs` checks it against these rows).
 *
 * A test fails when the generated header or the README's table no longer matches the rows.
 */

/** Socket levels (the `level` argument of setsockopt). */
export const LEVELS = ['SOL_SOCKET', 'IPPROTO_TCP', 'IPPROTO_IP', 'IPPROTO_IPV6', 'IPPROTO_UDP'] as const;
export type LevelName = (typeof LEVELS)[number];

/** Address families and socket types, for the sockets socket-knobs creates itself (listen(), probe()). */
export const SOCKET_CONSTANTS = ['AF_INET', 'AF_INET6', 'SOCK_STREAM', 'SOCK_DGRAM'] as const;

/**
 * How the option's value travels through setsockopt:
 * - `bool`: an int that is 0 or 1;
 * - `int`: a C int, with the row's range;
 * - `linger`: a `struct linger { int l_onoff; int l_linger; }`.
 */
export type ValueKind = 'bool' | 'int' | 'linger';

/** Which sockets an option applies to; used by the tests and the docs. */
export type SocketKind = 'tcp' | 'udp' | 'any' | 'ipv6';

export interface OptionRow {
  /** The C macro name, as in the platform's headers. */
  readonly name: string;
  readonly level: LevelName;
  readonly kind: ValueKind;
  /** Lowest value the typed helper accepts. */
  readonly min?: number;
  /** Highest value the typed helper accepts, per platform where the kernel has its own limit. */
  readonly max?: number;
  /** Per-platform maxima (`process.platform` keys) overriding `max`. */
  readonly maxOn?: Readonly<Record<string, number>>;
  /** Unit of the value, for messages and docs. */
  readonly unit?: 'seconds' | 'milliseconds' | 'bytes' | 'probes' | 'hops';
  /** Sockets the option applies to. */
  readonly sockets: SocketKind;
  /** True when the kernel only reports it (getsockopt) and refuses to set it. */
  readonly readOnly?: boolean;
  /** True when Linux accepts it only before bind() (EINVAL afterwards). */
  readonly beforeBindOnly?: boolean;
  /**
   * The same knob under another name on other platforms: macOS spells TCP_KEEPIDLE as
   * TCP_KEEPALIVE. The typed helpers use the first name the platform defines.
   */
  readonly alias?: string;
  /** Where the platform headers define it (docs only; the `#ifdef` is the truth at run time). */
  readonly platforms: string;
  /** One line for the docs. */
  readonly doc: string;
}

const INT_MAX = 2147483647;

// Linux's kernel limits (include/net/tcp.h: MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT).
// They are not in any userspace header, so they live here, next to the option they bound.
const LINUX_MAX_KEEPIDLE = 32767;
const LINUX_MAX_KEEPCNT = 127;

export const OPTIONS: readonly OptionRow[] = [
  { name: 'SO_REUSEADDR', level: 'SOL_SOCKET', kind: 'bool', sockets: 'any', platforms: 'linux, darwin, freebsd, win32',
    doc: 'Allow bind() to an address whose old connections are still in TIME_WAIT (set before bind).' },
  { name: 'SO_REUSEPORT', level: 'SOL_SOCKET', kind: 'bool', sockets: 'any', platforms: 'linux, darwin, freebsd',
    doc: 'Let several sockets bind the same address and port; the kernel spreads connections over them.' },
  { name: 'SO_KEEPALIVE', level: 'SOL_SOCKET', kind: 'bool', sockets: 'tcp', platforms: 'linux, darwin, freebsd, win32',
    doc: 'Send keepalive probes on an idle connection.' },
  { name: 'SO_LINGER', level: 'SOL_SOCKET', kind: 'linger', min: 0, max: INT_MAX, unit: 'seconds', sockets: 'tcp',
    platforms: 'linux, darwin, freebsd, win32',
    doc: 'What close() does with unsent data: linger up to N seconds, or reset at once with 0.' },
  { name: 'SO_RCVBUF', level: 'SOL_SOCKET', kind: 'int', min: 0, max: INT_MAX, unit: 'bytes', sockets: 'any',
    platforms: 'linux, darwin, freebsd, win32', doc: 'Receive buffer size (Linux doubles the value and reports the doubled size).' },
  { name: 'SO_SNDBUF', level: 'SOL_SOCKET', kind: 'int', min: 0, max: INT_MAX, unit: 'bytes', sockets: 'any',
    platforms: 'linux, darwin, freebsd, win32', doc: 'Send buffer size (Linux doubles the value and reports the doubled size).' },
  { name: 'SO_TYPE', level: 'SOL_SOCKET', kind: 'int', sockets: 'any', readOnly: true, platforms: 'linux, darwin, freebsd, win32',
    doc: 'The socket type (SOCK_STREAM, SOCK_DGRAM); read-only.' },
  { name: 'SO_ERROR', level: 'SOL_SOCKET', kind: 'int', sockets: 'any', readOnly: true, platforms: 'linux, darwin, freebsd, win32',
    doc: 'The pending socket error, cleared by reading it; read-only.' },
  { name: 'TCP_NODELAY', level: 'IPPROTO_TCP', kind: 'bool', sockets: 'tcp', platforms: 'linux, darwin, freebsd, win32',
    doc: 'Send small segments at once instead of coalescing them (Nagle off).' },
  { name: 'TCP_KEEPIDLE', level: 'IPPROTO_TCP', kind: 'int', min: 1, max: INT_MAX, maxOn: { linux: LINUX_MAX_KEEPIDLE },
    unit: 'seconds', sockets: 'tcp', alias: 'TCP_KEEPALIVE', platforms: 'linux, freebsd, win32 (10.0.16299+)',
    doc: 'Idle time before the first keepalive probe.' },
  { name: 'TCP_KEEPALIVE', level: 'IPPROTO_TCP', kind: 'int', min: 1, max: INT_MAX, unit: 'seconds', sockets: 'tcp',
    platforms: 'darwin', doc: "macOS's name for TCP_KEEPIDLE." },
  { name: 'TCP_KEEPINTVL', level: 'IPPROTO_TCP', kind: 'int', min: 1, max: INT_MAX, maxOn: { linux: LINUX_MAX_KEEPIDLE },
    unit: 'seconds', sockets: 'tcp', platforms: 'linux, darwin, freebsd, win32 (10.0.16299+)',
    doc: 'Time between keepalive probes.' },
  { name: 'TCP_KEEPCNT', level: 'IPPROTO_TCP', kind: 'int', min: 1, max: INT_MAX, maxOn: { linux: LINUX_MAX_KEEPCNT },
    unit: 'probes', sockets: 'tcp', platforms: 'linux, darwin, freebsd, win32 (10.0.16299+)',
    doc: 'Unanswered probes before the connection is dropped with ETIMEDOUT.' },
  { name: 'TCP_USER_TIMEOUT', level: 'IPPROTO_TCP', kind: 'int', min: 0, max: INT_MAX, unit: 'milliseconds', sockets: 'tcp',
    platforms: 'linux', doc: 'How long sent data may stay unacknowledged before the kernel drops the connection (0: system default).' },
  { name: 'IP_TOS', level: 'IPPROTO_IP', kind: 'int', min: 0, max: 255, sockets: 'any', platforms: 'linux, darwin, freebsd, win32',
    doc: 'Type-of-service / DSCP byte of outgoing IPv4 packets.' },
  { name: 'IP_TTL', level: 'IPPROTO_IP', kind: 'int', min: 1, max: 255, unit: 'hops', sockets: 'any',
    platforms: 'linux, darwin, freebsd, win32', doc: 'Time-to-live of outgoing IPv4 packets.' },
  { name: 'IPV6_V6ONLY', level: 'IPPROTO_IPV6', kind: 'bool', sockets: 'ipv6', beforeBindOnly: true, platforms: 'linux, darwin, freebsd, win32',
    doc: 'An IPv6 socket that does not also accept IPv4-mapped traffic (set before bind).' },
  { name: 'IPV6_UNICAST_HOPS', level: 'IPPROTO_IPV6', kind: 'int', min: -1, max: 255, unit: 'hops', sockets: 'ipv6',
    platforms: 'linux, darwin, freebsd, win32', doc: 'Hop limit of outgoing IPv6 packets (-1: route default).' },
];

/** Rows by name, for O(1) lookup in the façade. */
export const OPTION_BY_NAME: ReadonlyMap<string, OptionRow> = new Map(OPTIONS.map((row) => [row.name, row]));
