/**
 * The layout of Linux's `struct tcp_info`: this module's own offset table, not a C header (glibc's
 * <netinet/tcp.h> declares 104 bytes, Debian 12's <linux/tcp.h> 232, and Linux 6.18 returns 280).
 * Offsets are x86_64's, which on Linux is every architecture's: the struct has only fixed-size,
 * naturally aligned fields.
 *
 * `scripts/gen.js` turns this table into straight-line decoding code (`lib/options/tcpinfo.gen.ts`) when the
 * package is built, so nothing is compiled from strings at run time (`--disallow-code-generation-
 * from-strings` must not break require()), and test/unit/linux-options.test.js checks every offset against
 * the installed <linux/tcp.h>.
 */

/**
 * `struct tcp_info` decoded. Times are as the kernel keeps them: `rto`, `ato`, `rtt`, `rttvar`,
 * `rcvRtt`, `minRtt`, `busyTime`, `rwndLimited`, `sndbufLimited` in microseconds; `lastDataSent`,
 * `lastDataRecv`, `lastAckRecv`, `totalRtoTime` in milliseconds. Sizes in bytes: `sndMss`,
 * `rcvMss`, `pmtu`, `rcvSsthresh`, `advmss`, `rcvSpace`, `notsentBytes`, `bytes*`, `sndWnd`,
 * `rcvWnd`. Counts in segments: `unacked`, `sacked`, `lost`, `retrans`, `sndCwnd`, `sndSsthresh`
 * (2147483647 while still in the initial slow start), `reordering`, `totalRetrans`, `segsIn/Out`,
 * `dataSegsIn/Out`, `delivered`, `deliveredCe`. Rates in bytes per second: `pacingRate`,
 * `maxPacingRate` (Infinity: unlimited), `deliveryRate`. The u64 counters (`bytes*`, `busyTime`,
 * `rwndLimited`, `sndbufLimited`, `deliveryRate`) are exact up to 2^53 (9 PB per connection). On a listener, `unacked` is the accept
 * queue's length and `sacked` its limit. Every field after `state` is optional: present only when
 * the running kernel returned it.
 */
export interface TcpInfo {
  /** The TCP state by name: 'ESTABLISHED', 'LISTEN', 'CLOSE_WAIT', ... */
  state: string;
  caState?: 'Open' | 'Disorder' | 'CWR' | 'Recovery' | 'Loss' | number;
  /** Unrecovered RTO timeouts in a row (the current retransmission episode). */
  retransmits?: number;
  /** Unanswered zero-window or keepalive probes. */
  probes?: number;
  /** RTO backoff exponent. */
  backoff?: number;
  /** tcpi_options, decoded. */
  options?: { timestamps: boolean; sack: boolean; windowScale: boolean; ecn: boolean; ecnSeen: boolean; synData: boolean; usecTs: boolean; tfoChild: boolean };
  sndWscale?: number;
  rcvWscale?: number;
  deliveryRateAppLimited?: boolean;
  fastopenClientFail?: number;
  rto?: number;
  ato?: number;
  sndMss?: number;
  rcvMss?: number;
  unacked?: number;
  sacked?: number;
  lost?: number;
  retrans?: number;
  fackets?: number;
  lastDataSent?: number;
  lastAckSent?: number;
  lastDataRecv?: number;
  lastAckRecv?: number;
  pmtu?: number;
  rcvSsthresh?: number;
  rtt?: number;
  rttvar?: number;
  sndSsthresh?: number;
  sndCwnd?: number;
  advmss?: number;
  reordering?: number;
  rcvRtt?: number;
  rcvSpace?: number;
  totalRetrans?: number;
  pacingRate?: number;
  maxPacingRate?: number;
  bytesAcked?: number;
  bytesReceived?: number;
  segsOut?: number;
  segsIn?: number;
  notsentBytes?: number;
  minRtt?: number;
  dataSegsIn?: number;
  dataSegsOut?: number;
  deliveryRate?: number;
  busyTime?: number;
  rwndLimited?: number;
  sndbufLimited?: number;
  delivered?: number;
  deliveredCe?: number;
  bytesSent?: number;
  bytesRetrans?: number;
  dsackDups?: number;
  reordSeen?: number;
  rcvOoopack?: number;
  sndWnd?: number;
  rcvWnd?: number;
  rehash?: number;
  totalRto?: number;
  totalRtoRecoveries?: number;
  totalRtoTime?: number;
  receivedCe?: number;
  deliveredE1Bytes?: number;
  deliveredE0Bytes?: number;
  deliveredCeBytes?: number;
  receivedE1Bytes?: number;
  receivedE0Bytes?: number;
  receivedCeBytes?: number;
  /** 0 disabled, 1 RFC 3168 ECN, 2 AccECN, 3 pending (Linux 6.18). */
  ecnMode?: number;
  accecnOptSeen?: number;
  accecnFailMode?: number;
  /** The number of bytes the kernel returned (280 on Linux 6.18). */
  length: number;
}

/**
 * How a member is read: `u8`/`u16`/`u32` as unsigned integers; `u64` from two u32 halves (exact up
 * to 2^53, 9 PB: documented); `rate` a u64 where ~0 means "unlimited" and reads as Infinity (the
 * pacing rates only); `state`, `caState` and `options` are u8s decoded to names by tcpinfo.ts.
 */
export type FieldKind = 'u8' | 'u16' | 'u32' | 'u64' | 'rate' | 'state' | 'caState' | 'options';

/**
 * A member: [TcpInfo field, byte offset, kind], or for a bitfield [field, byte offset of the unit
 * holding it, the unit's kind, first bit, bits, 'bool' when it is a flag]. Bit positions are the
 * little-endian layout (x86_64, arm64): the low bits first.
 */
export type Member =
  | readonly [field: string, offset: number, kind: FieldKind]
  | readonly [field: string, offset: number, unit: 'u8' | 'u32', shift: number, bits: number, flag?: 'bool'];

/** Every member socket-knobs decodes, in the struct's order. */
// prettier-ignore
export const TCP_INFO_MEMBERS = [
  ['state', 0, 'state'], ['caState', 1, 'caState'], ['retransmits', 2, 'u8'], ['probes', 3, 'u8'], ['backoff', 4, 'u8'],
  ['options', 5, 'options'],
  ['sndWscale', 6, 'u8', 0, 4], ['rcvWscale', 6, 'u8', 4, 4],
  ['deliveryRateAppLimited', 7, 'u8', 0, 1, 'bool'], ['fastopenClientFail', 7, 'u8', 1, 2],
  ['rto', 8, 'u32'], ['ato', 12, 'u32'], ['sndMss', 16, 'u32'], ['rcvMss', 20, 'u32'], ['unacked', 24, 'u32'], ['sacked', 28, 'u32'],
  ['lost', 32, 'u32'], ['retrans', 36, 'u32'], ['fackets', 40, 'u32'], ['lastDataSent', 44, 'u32'], ['lastAckSent', 48, 'u32'],
  ['lastDataRecv', 52, 'u32'], ['lastAckRecv', 56, 'u32'], ['pmtu', 60, 'u32'], ['rcvSsthresh', 64, 'u32'], ['rtt', 68, 'u32'],
  ['rttvar', 72, 'u32'], ['sndSsthresh', 76, 'u32'], ['sndCwnd', 80, 'u32'], ['advmss', 84, 'u32'], ['reordering', 88, 'u32'],
  ['rcvRtt', 92, 'u32'], ['rcvSpace', 96, 'u32'], ['totalRetrans', 100, 'u32'], ['pacingRate', 104, 'rate'], ['maxPacingRate', 112, 'rate'],
  ['bytesAcked', 120, 'u64'], ['bytesReceived', 128, 'u64'], ['segsOut', 136, 'u32'], ['segsIn', 140, 'u32'], ['notsentBytes', 144, 'u32'],
  ['minRtt', 148, 'u32'], ['dataSegsIn', 152, 'u32'], ['dataSegsOut', 156, 'u32'], ['deliveryRate', 160, 'u64'], ['busyTime', 168, 'u64'],
  ['rwndLimited', 176, 'u64'], ['sndbufLimited', 184, 'u64'], ['delivered', 192, 'u32'], ['deliveredCe', 196, 'u32'], ['bytesSent', 200, 'u64'],
  ['bytesRetrans', 208, 'u64'], ['dsackDups', 216, 'u32'], ['reordSeen', 220, 'u32'], ['rcvOoopack', 224, 'u32'], ['sndWnd', 228, 'u32'],
  ['rcvWnd', 232, 'u32'], ['rehash', 236, 'u32'], ['totalRto', 240, 'u16'], ['totalRtoRecoveries', 242, 'u16'], ['totalRtoTime', 244, 'u32'],
  ['receivedCe', 248, 'u32'], ['deliveredE1Bytes', 252, 'u32'], ['deliveredE0Bytes', 256, 'u32'], ['deliveredCeBytes', 260, 'u32'],
  ['receivedE1Bytes', 264, 'u32'], ['receivedE0Bytes', 268, 'u32'], ['receivedCeBytes', 272, 'u32'],
  // __u32 tcpi_ecn_mode : 2, tcpi_accecn_opt_seen : 2, tcpi_accecn_fail_mode : 4, tcpi_options2 : 24 (Linux 6.18)
  ['ecnMode', 276, 'u32', 0, 2], ['accecnOptSeen', 276, 'u32', 2, 2], ['accecnFailMode', 276, 'u32', 4, 4],
] as const satisfies readonly Member[];

/** Bytes per kind. */
export const KIND_WIDTH: Readonly<Record<FieldKind, number>> = { u8: 1, u16: 2, u32: 4, u64: 8, rate: 8, state: 1, caState: 1, options: 1 };

/** The bytes a member needs the kernel to have written. */
export function memberEnd(member: Member): number {
  return member[1] + KIND_WIDTH[member[2]];
}

/** The size of the struct as the newest kernel this table knows returns it (Linux 6.18: 280). */
export const TCP_INFO_KNOWN_LENGTH = Math.max(...TCP_INFO_MEMBERS.map(memberEnd));

/** The kernel's member name (`tcpi_...`) of a TcpInfo field, for the header test. */
export function cName(field: string): string {
  return `tcpi_${field.replace(/[A-Z0-9]+/g, (m) => `_${m.toLowerCase()}`)}`;
}

// Linux's TCP states (include/net/tcp_states.h) and congestion-avoidance states.
const STATES = [
  '',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
  'BOUND_INACTIVE',
];
const CA_STATES = ['Open', 'Disorder', 'CWR', 'Recovery', 'Loss'] as const;

/** tcpi_state by name; a number the table does not know stays a number's text. */
export function stateName(value: number): string {
  return STATES[value] || String(value);
}

/** tcpi_ca_state by name, or its number. */
export function caStateName(value: number): NonNullable<TcpInfo['caState']> {
  return CA_STATES[value] ?? value;
}

/** tcpi_options, decoded into `into` when it is an object (a reused result), else into a new one. */
export function optionFlagsInto(into: unknown, o: number): NonNullable<TcpInfo['options']> {
  if (into === null || typeof into !== 'object') return optionFlags(o);
  const flags = into as NonNullable<TcpInfo['options']>;
  flags.timestamps = (o & 1) !== 0;
  flags.sack = (o & 2) !== 0;
  flags.windowScale = (o & 4) !== 0;
  flags.ecn = (o & 8) !== 0;
  flags.ecnSeen = (o & 16) !== 0;
  flags.synData = (o & 32) !== 0;
  flags.usecTs = (o & 64) !== 0;
  flags.tfoChild = (o & 128) !== 0;
  return flags;
}

/** tcpi_options, decoded. */
export function optionFlags(o: number): NonNullable<TcpInfo['options']> {
  return {
    timestamps: (o & 1) !== 0,
    sack: (o & 2) !== 0,
    windowScale: (o & 4) !== 0,
    ecn: (o & 8) !== 0,
    ecnSeen: (o & 16) !== 0,
    synData: (o & 32) !== 0,
    usecTs: (o & 64) !== 0,
    tfoChild: (o & 128) !== 0,
  };
}

/** The names of the states a filter may ask for (ESTABLISHED to CLOSING; a TIME_WAIT socket belongs to no process, so it matches none). */
export const TCP_STATE_NAMES: readonly string[] = STATES.slice(1, 12);
