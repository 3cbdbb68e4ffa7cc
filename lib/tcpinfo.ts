/**
 * getTcpInfo(): the kernel's view of a TCP connection, decoded from `struct tcp_info`
 * (getsockopt TCP_INFO), one crossing.
 *
 * The layout is this module's own offset table, not a C header: glibc's <netinet/tcp.h> declares
 * 104 bytes, Debian 12's <linux/tcp.h> 232, and Linux 6.18 returns 280. The buffer is zero-filled
 * and larger than any struct known (512 bytes); the kernel copies min(buffer, its own size) and
 * says how much it wrote. A field is present only where offset + size <= that length: an older
 * kernel gives fewer fields, never zeros posing as data. Offsets are x86_64's, which on Linux is
 * every architecture's (the struct has only fixed-size fields, naturally aligned).
 */
import { bytesWritten, getRawBytes, resolve } from './core';
import { SyscallError } from './errors';
import { fdOf, type Target } from './target';

/**
 * `struct tcp_info` decoded. Times are as the kernel keeps them: `rto`, `ato`, `rtt`, `rttvar`,
 * `rcvRtt`, `minRtt`, `busyTime`, `rwndLimited`, `sndbufLimited` in microseconds; `lastDataSent`,
 * `lastDataRecv`, `lastAckRecv`, `totalRtoTime` in milliseconds. Sizes in bytes: `sndMss`,
 * `rcvMss`, `pmtu`, `rcvSsthresh`, `advmss`, `rcvSpace`, `notsentBytes`, `bytes*`, `sndWnd`,
 * `rcvWnd`. Counts in segments: `unacked`, `sacked`, `lost`, `retrans`, `sndCwnd`, `sndSsthresh`
 * (2147483647 while still in the initial slow start), `reordering`, `totalRetrans`, `segsIn/Out`,
 * `dataSegsIn/Out`, `delivered`, `deliveredCe`. Rates in bytes per second: `pacingRate`,
 * `maxPacingRate` (Infinity: unlimited), `deliveryRate`. On a listener, `unacked` is the accept
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
  rto?: number; ato?: number; sndMss?: number; rcvMss?: number;
  unacked?: number; sacked?: number; lost?: number; retrans?: number; fackets?: number;
  lastDataSent?: number; lastAckSent?: number; lastDataRecv?: number; lastAckRecv?: number;
  pmtu?: number; rcvSsthresh?: number; rtt?: number; rttvar?: number; sndSsthresh?: number; sndCwnd?: number;
  advmss?: number; reordering?: number; rcvRtt?: number; rcvSpace?: number; totalRetrans?: number;
  pacingRate?: number; maxPacingRate?: number; bytesAcked?: number; bytesReceived?: number;
  segsOut?: number; segsIn?: number; notsentBytes?: number; minRtt?: number; dataSegsIn?: number; dataSegsOut?: number;
  deliveryRate?: number; busyTime?: number; rwndLimited?: number; sndbufLimited?: number;
  delivered?: number; deliveredCe?: number; bytesSent?: number; bytesRetrans?: number; dsackDups?: number; reordSeen?: number;
  rcvOoopack?: number; sndWnd?: number; rcvWnd?: number; rehash?: number;
  totalRto?: number; totalRtoRecoveries?: number; totalRtoTime?: number;
  receivedCe?: number; deliveredE1Bytes?: number; deliveredE0Bytes?: number; deliveredCeBytes?: number;
  receivedE1Bytes?: number; receivedE0Bytes?: number; receivedCeBytes?: number;
  /** 0 disabled, 1 RFC 3168 ECN, 2 AccECN, 3 pending (Linux 6.18). */
  ecnMode?: number;
  accecnOptSeen?: number;
  accecnFailMode?: number;
  /** The number of bytes the kernel returned (280 on Linux 6.18). */
  length: number;
}

type Width = 1 | 2 | 4 | 8;
/** [field, byte offset, width]: the plain (non-bitfield) members after byte 7, in order. */
export const TCP_INFO_FIELDS: readonly (readonly [keyof TcpInfo, number, Width])[] = [
  ['rto', 8, 4], ['ato', 12, 4], ['sndMss', 16, 4], ['rcvMss', 20, 4], ['unacked', 24, 4], ['sacked', 28, 4],
  ['lost', 32, 4], ['retrans', 36, 4], ['fackets', 40, 4], ['lastDataSent', 44, 4], ['lastAckSent', 48, 4],
  ['lastDataRecv', 52, 4], ['lastAckRecv', 56, 4], ['pmtu', 60, 4], ['rcvSsthresh', 64, 4], ['rtt', 68, 4],
  ['rttvar', 72, 4], ['sndSsthresh', 76, 4], ['sndCwnd', 80, 4], ['advmss', 84, 4], ['reordering', 88, 4],
  ['rcvRtt', 92, 4], ['rcvSpace', 96, 4], ['totalRetrans', 100, 4], ['pacingRate', 104, 8], ['maxPacingRate', 112, 8],
  ['bytesAcked', 120, 8], ['bytesReceived', 128, 8], ['segsOut', 136, 4], ['segsIn', 140, 4], ['notsentBytes', 144, 4],
  ['minRtt', 148, 4], ['dataSegsIn', 152, 4], ['dataSegsOut', 156, 4], ['deliveryRate', 160, 8], ['busyTime', 168, 8],
  ['rwndLimited', 176, 8], ['sndbufLimited', 184, 8], ['delivered', 192, 4], ['deliveredCe', 196, 4], ['bytesSent', 200, 8],
  ['bytesRetrans', 208, 8], ['dsackDups', 216, 4], ['reordSeen', 220, 4], ['rcvOoopack', 224, 4], ['sndWnd', 228, 4],
  ['rcvWnd', 232, 4], ['rehash', 236, 4], ['totalRto', 240, 2], ['totalRtoRecoveries', 242, 2], ['totalRtoTime', 244, 4],
  ['receivedCe', 248, 4], ['deliveredE1Bytes', 252, 4], ['deliveredE0Bytes', 256, 4], ['deliveredCeBytes', 260, 4],
  ['receivedE1Bytes', 264, 4], ['receivedE0Bytes', 268, 4], ['receivedCeBytes', 272, 4],
];
/** The kernel's field names (tcpi_...) for the table above and the bytes before it, for the header test. */
export const TCP_INFO_C_NAMES: Readonly<Record<string, string>> = {
  state: 'tcpi_state', caState: 'tcpi_ca_state', retransmits: 'tcpi_retransmits', probes: 'tcpi_probes',
  backoff: 'tcpi_backoff', options: 'tcpi_options',
  ...Object.fromEntries(TCP_INFO_FIELDS.map(([name]) => [name, `tcpi_${String(name).replace(/[A-Z0-9]+/g, (m) => `_${m.toLowerCase()}`)}`])),
};

// Linux's TCP states (include/net/tcp_states.h).
const STATES = ['', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV', 'BOUND_INACTIVE'];
const CA_STATES = ['Open', 'Disorder', 'CWR', 'Recovery', 'Loss'] as const;

const BUFFER_SIZE = 512;
const buffer = new Uint8Array(BUFFER_SIZE);
// The kernel writes the struct in the host's byte order, which is what typed arrays read.
const u16 = new Uint16Array(buffer.buffer);
const u32 = new Uint32Array(buffer.buffer);
const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A __u64 from two __u32 halves; ~0 (the kernel's "unlimited") is Infinity. */
function u64(index: number): number {
  const lo = little ? u32[index]! : u32[index + 1]!;
  const hi = little ? u32[index + 1]! : u32[index]!;
  return lo === 0xffffffff && hi === 0xffffffff ? Infinity : hi * 4294967296 + lo;
}

/**
 * The plain fields are assigned by straight-line code generated once from TCP_INFO_FIELDS (names
 * and offsets are this module's own constants): one property store per field, each guarded by the
 * length the kernel returned, and the same order every call, so V8 keeps one object shape. A loop
 * of computed-name stores over the table cost about 3 µs per call; this is a few hundred ns.
 */
const assignFields = new Function(
  'o', 'n', 'u16', 'u32', 'u64',
  TCP_INFO_FIELDS.map(([name, offset, width]) => {
    const read = width === 8 ? `u64(${offset / 4})` : width === 4 ? `u32[${offset / 4}]` : `u16[${offset / 2}]`;
    return `if (n >= ${offset + width}) o.${String(name)} = ${read};`;
  }).join('\n'),
) as (o: TcpInfo, n: number, a: Uint16Array, b: Uint32Array, c: typeof u64) => void;

/** Decodes the first `length` bytes of `bytes` (for fixed inputs: the tests' shorter kernels). */
export function decodeTcpInfo(bytes: Uint8Array, length: number): TcpInfo {
  buffer.fill(0);
  buffer.set(bytes.subarray(0, Math.min(length, BUFFER_SIZE)));
  return decode(Math.min(length, BUFFER_SIZE));
}

/** Decodes the module buffer, of which the kernel wrote `length` bytes. */
function decode(length: number): TcpInfo {
  const b = buffer;
  const info: TcpInfo = { state: STATES[b[0]!] || String(b[0]), length };
  if (length >= 2) info.caState = CA_STATES[b[1]!] ?? b[1]!;
  if (length >= 3) info.retransmits = b[2]!;
  if (length >= 4) info.probes = b[3]!;
  if (length >= 5) info.backoff = b[4]!;
  if (length >= 6) {
    const o = b[5]!;
    info.options = { timestamps: !!(o & 1), sack: !!(o & 2), windowScale: !!(o & 4), ecn: !!(o & 8), ecnSeen: !!(o & 16), synData: !!(o & 32), usecTs: !!(o & 64), tfoChild: !!(o & 128) };
  }
  if (length >= 7) {
    // __u8 tcpi_snd_wscale : 4, tcpi_rcv_wscale : 4 (little-endian bitfield order: low bits first)
    info.sndWscale = b[6]! & 0xf;
    info.rcvWscale = b[6]! >> 4;
  }
  if (length >= 8) {
    // __u8 tcpi_delivery_rate_app_limited : 1, tcpi_fastopen_client_fail : 2
    info.deliveryRateAppLimited = (b[7]! & 1) !== 0;
    info.fastopenClientFail = (b[7]! >> 1) & 3;
  }
  assignFields(info, length, u16, u32, u64);
  if (length >= 280) {
    // __u32 tcpi_ecn_mode : 2, tcpi_accecn_opt_seen : 2, tcpi_accecn_fail_mode : 4, tcpi_options2 : 24
    const word = u32[69]!;
    info.ecnMode = word & 3;
    info.accecnOptSeen = (word >> 2) & 3;
    info.accecnFailMode = (word >> 4) & 0xf;
  }
  return info;
}

/** Reads TCP_INFO from `target` (a connected TCP socket, or a listener) in one crossing and decodes it. */
export function getTcpInfo(target: Target): TcpInfo {
  const option = resolve('TCP_INFO');
  const fd = fdOf(target);
  buffer.fill(0);
  const err = getRawBytes(fd, option.level, option.option, buffer);
  if (err !== 0) throw new SyscallError(err, 'getsockopt', { level: option.row.level, option: option.name });
  return decode(bytesWritten());
}
