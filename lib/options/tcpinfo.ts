/**
 * getTcpInfo(): the kernel's view of a TCP connection, decoded from `struct tcp_info`
 * (getsockopt TCP_INFO), in one crossing.
 *
 * The buffer is larger than any struct known (512 bytes); the kernel copies min(buffer, its own
 * size) and says how much it wrote. A field is present only where it fits in that length: an older
 * kernel gives fewer fields, never zeros posing as data. The layout and the decoding code are
 * tcpinfo-layout.ts and, generated from it at build time, tcpinfo.gen.ts.
 */
import { getScratchOption, scratchBytes } from '../core/syscall';
import { resolveRef, rowRef } from '../core/row-ref';
import { SocketOptionError } from '../core/errors';
import { fdOf, type Target } from '../node/target';
import { TCP_INFO_KNOWN_LENGTH, type TcpInfo } from './tcpinfo-layout';
import { DecodedPart, decodeInto, decodeWhole, decodeWholeInto } from './tcpinfo.gen';
import { invalidType } from '../core/validate';

export type { TcpInfo } from './tcpinfo-layout';

/** Typed views of one buffer, for decoding a struct where it lies in it. */
export interface Views {
  readonly bytes: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
}

/** The views a decoder reads `bytes` through (`bytes` starts at a multiple of 4 of its buffer). */
export function viewsOf(bytes: Uint8Array): Views {
  const { buffer, byteOffset, byteLength } = bytes;
  return { bytes, u16: new Uint16Array(buffer, byteOffset, byteLength >> 1), u32: new Uint32Array(buffer, byteOffset, byteLength >> 2) };
}

// The syscall module's scratch bytes, where the kernel writes the struct (in the host's byte order,
// which is what typed arrays read).
const scratch = viewsOf(scratchBytes);
const buffer = scratch.bytes;
const BUFFER_SIZE = buffer.byteLength;
const TCP_INFO = rowRef('TCP_INFO');

/** A new result from the struct of `length` (> 0) bytes at byte `at` (a multiple of 4) of `views`. */
function decodeNew(views: Views, at: number, length: number): TcpInfo {
  return length >= TCP_INFO_KNOWN_LENGTH
    ? decodeWhole(views.bytes, views.u16, views.u32, length, at)
    : new DecodedPart(views.bytes, views.u16, views.u32, length, at);
}

/** Decodes the `length` bytes the kernel wrote into the module buffer (into `into`, when given). */
function decode(length: number, into?: TcpInfo): TcpInfo {
  if (length === 0) {
    // Not even tcpi_state: nothing to report, and a state of '0' would pose as one.
    throw new SocketOptionError(
      'ERR_SOCKET_KNOBS_TCP_INFO_EMPTY',
      'getsockopt(TCP_INFO) returned 0 bytes: this kernel (or emulator) reports no TCP_INFO for the socket',
    );
  }
  if (into !== undefined) {
    const out = into as unknown as Record<string, unknown>;
    if (length >= TCP_INFO_KNOWN_LENGTH) decodeWholeInto(out, buffer, scratch.u16, scratch.u32, length);
    else decodeInto(out, buffer, scratch.u16, scratch.u32, length);
    return into;
  }
  return decodeNew(scratch, 0, length);
}

/**
 * Decodes the struct of `length` bytes at byte `at` of `views` (a datagram of the socket
 * diagnostics) where it lies: no copy and no view made per struct (10,000 sockets: socket-knobs
 * --pid 0.47 s to 0.45 s, an A/B of four runs). `at` not a multiple of 4: copied, as decodeTcpInfo.
 */
export function decodeTcpInfoIn(views: Views, at: number, length: number): TcpInfo {
  if ((at & 3) !== 0 || length === 0) return decodeTcpInfo(views.bytes.subarray(at, at + length), length);
  return decodeNew(views, at, length);
}

/** Decodes the first `length` bytes of `bytes` (for fixed inputs: the tests' shorter kernels), into `into` when given. */
export function decodeTcpInfo(bytes: Uint8Array, length: number, into?: TcpInfo): TcpInfo {
  const n = Math.min(length, bytes.byteLength, BUFFER_SIZE);
  buffer.fill(0);
  buffer.set(bytes.subarray(0, n));
  return decode(n, into);
}

/**
 * Reads TCP_INFO from `target` (a connected TCP socket, or a listener) in one crossing and decodes it.
 * With `result` (an object a previous call returned, or any object), it is refilled and returned
 * instead of a new one: no allocation per call (members the kernel did not write are undefined).
 */
export function getTcpInfo(target: Target, result?: TcpInfo): TcpInfo {
  if (result !== undefined && (result === null || typeof result !== 'object')) throw invalidType('result', 'of type object', result);
  const option = resolveRef(TCP_INFO);
  return decode(getScratchOption(fdOf(target), option), result);
}
