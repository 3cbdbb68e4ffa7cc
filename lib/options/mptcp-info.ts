/**
 * struct mptcp_info (<linux/mptcp.h>): what the kernel says of a Multipath TCP connection as a whole
 * (the INET_DIAG_INFO of an MPTCP socket, and getsockopt(SOL_MPTCP, MPTCP_INFO)); its subflows each
 * have a tcp_info of their own. A field is present only where it fits in the length the kernel gave
 * (the struct grew in 6.x: the byte counters and the subflow total).
 */
export interface MptcpInfo {
  /** Subflows beyond the initial one, established now; and the most the path manager allows. */
  subflows: number;
  subflowsMax: number;
  addAddrSignal: number;
  addAddrAccepted: number;
  flags: number;
  token: number;
  localAddrUsed?: number;
  localAddrMax?: number;
  checksums?: boolean;
  retransmits?: number;
  bytesRetrans?: number;
  bytesSent?: number;
  bytesReceived?: number;
  bytesAcked?: number;
  /** Every subflow ever created, the established ones included. */
  subflowsTotal?: number;
  /** Milliseconds since data was last sent, received, and acknowledged. */
  lastDataSent?: number;
  lastDataRecv?: number;
  lastAckRecv?: number;
  /** The bytes the kernel gave. */
  length: number;
}

/** Decodes the first `length` bytes of `bytes` (host byte order), from `at`. */
export function decodeMptcpInfo(bytes: Uint8Array, at: number, length: number): MptcpInfo {
  const v = new DataView(bytes.buffer, bytes.byteOffset + at, length);
  const u64 = (o: number): number => Number(v.getBigUint64(o, true));
  const info: MptcpInfo = {
    subflows: length > 0 ? v.getUint8(0) : 0,
    addAddrSignal: length > 1 ? v.getUint8(1) : 0,
    addAddrAccepted: length > 2 ? v.getUint8(2) : 0,
    subflowsMax: length > 3 ? v.getUint8(3) : 0,
    flags: length >= 12 ? v.getUint32(8, true) : 0,
    token: length >= 16 ? v.getUint32(12, true) : 0,
    length,
  };
  if (length >= 43) Object.assign(info, { localAddrUsed: v.getUint8(40), localAddrMax: v.getUint8(41), checksums: v.getUint8(42) !== 0 });
  if (length >= 48) info.retransmits = v.getUint32(44, true);
  if (length >= 80) Object.assign(info, { bytesRetrans: u64(48), bytesSent: u64(56), bytesReceived: u64(64), bytesAcked: u64(72) });
  if (length >= 81) info.subflowsTotal = v.getUint8(80);
  if (length >= 96) Object.assign(info, { lastDataSent: v.getUint32(84, true), lastDataRecv: v.getUint32(88, true), lastAckRecv: v.getUint32(92, true) });
  return info;
}
