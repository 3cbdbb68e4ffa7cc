'use strict';
// The floor of getTcpInfo() for `npm run bench` (issue 29): a hand-written DataView decode of the
// same members socket-knobs decodes (lib/options/tcpinfo-layout.ts, the 280 bytes of Linux 6.18's
// struct tcp_info), straight-line, into a preallocated object. Written out once from the layout's
// member list; no code is made at run time. The bench times it after the bare TCP_INFO crossing.
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
const CA_STATES = ['Open', 'Disorder', 'CWR', 'Recovery', 'Loss'];

/** A result object to refill, with its nested options object. */
function preallocated() {
  return { options: {} };
}

/** Decodes the struct in `b` (a Uint8Array; `v` a DataView of it) into `o`. */
function decodeInto(b, v, o) {
  o.state = STATES[b[0]];
  o.caState = CA_STATES[b[1]];
  o.retransmits = b[2];
  o.probes = b[3];
  o.backoff = b[4];
  const x = b[5],
    f = o.options;
  f.timestamps = (x & 1) !== 0;
  f.sack = (x & 2) !== 0;
  f.windowScale = (x & 4) !== 0;
  f.ecn = (x & 8) !== 0;
  f.ecnSeen = (x & 16) !== 0;
  f.synData = (x & 32) !== 0;
  f.usecTs = (x & 64) !== 0;
  f.tfoChild = (x & 128) !== 0;
  o.sndWscale = (b[6] >>> 0) & 15;
  o.rcvWscale = (b[6] >>> 4) & 15;
  o.deliveryRateAppLimited = ((b[7] >>> 0) & 1) !== 0;
  o.fastopenClientFail = (b[7] >>> 1) & 3;
  o.rto = v.getUint32(8, true);
  o.ato = v.getUint32(12, true);
  o.sndMss = v.getUint32(16, true);
  o.rcvMss = v.getUint32(20, true);
  o.unacked = v.getUint32(24, true);
  o.sacked = v.getUint32(28, true);
  o.lost = v.getUint32(32, true);
  o.retrans = v.getUint32(36, true);
  o.fackets = v.getUint32(40, true);
  o.lastDataSent = v.getUint32(44, true);
  o.lastAckSent = v.getUint32(48, true);
  o.lastDataRecv = v.getUint32(52, true);
  o.lastAckRecv = v.getUint32(56, true);
  o.pmtu = v.getUint32(60, true);
  o.rcvSsthresh = v.getUint32(64, true);
  o.rtt = v.getUint32(68, true);
  o.rttvar = v.getUint32(72, true);
  o.sndSsthresh = v.getUint32(76, true);
  o.sndCwnd = v.getUint32(80, true);
  o.advmss = v.getUint32(84, true);
  o.reordering = v.getUint32(88, true);
  o.rcvRtt = v.getUint32(92, true);
  o.rcvSpace = v.getUint32(96, true);
  o.totalRetrans = v.getUint32(100, true);
  o.pacingRate = v.getInt32(104, true) === -1 && v.getInt32(108, true) === -1 ? Infinity : v.getUint32(108, true) * 4294967296 + v.getUint32(104, true);
  o.maxPacingRate = v.getInt32(112, true) === -1 && v.getInt32(116, true) === -1 ? Infinity : v.getUint32(116, true) * 4294967296 + v.getUint32(112, true);
  o.bytesAcked = v.getUint32(124, true) * 4294967296 + v.getUint32(120, true);
  o.bytesReceived = v.getUint32(132, true) * 4294967296 + v.getUint32(128, true);
  o.segsOut = v.getUint32(136, true);
  o.segsIn = v.getUint32(140, true);
  o.notsentBytes = v.getUint32(144, true);
  o.minRtt = v.getUint32(148, true);
  o.dataSegsIn = v.getUint32(152, true);
  o.dataSegsOut = v.getUint32(156, true);
  o.deliveryRate = v.getUint32(164, true) * 4294967296 + v.getUint32(160, true);
  o.busyTime = v.getUint32(172, true) * 4294967296 + v.getUint32(168, true);
  o.rwndLimited = v.getUint32(180, true) * 4294967296 + v.getUint32(176, true);
  o.sndbufLimited = v.getUint32(188, true) * 4294967296 + v.getUint32(184, true);
  o.delivered = v.getUint32(192, true);
  o.deliveredCe = v.getUint32(196, true);
  o.bytesSent = v.getUint32(204, true) * 4294967296 + v.getUint32(200, true);
  o.bytesRetrans = v.getUint32(212, true) * 4294967296 + v.getUint32(208, true);
  o.dsackDups = v.getUint32(216, true);
  o.reordSeen = v.getUint32(220, true);
  o.rcvOoopack = v.getUint32(224, true);
  o.sndWnd = v.getUint32(228, true);
  o.rcvWnd = v.getUint32(232, true);
  o.rehash = v.getUint32(236, true);
  o.totalRto = v.getUint16(240, true);
  o.totalRtoRecoveries = v.getUint16(242, true);
  o.totalRtoTime = v.getUint32(244, true);
  o.receivedCe = v.getUint32(248, true);
  o.deliveredE1Bytes = v.getUint32(252, true);
  o.deliveredE0Bytes = v.getUint32(256, true);
  o.deliveredCeBytes = v.getUint32(260, true);
  o.receivedE1Bytes = v.getUint32(264, true);
  o.receivedE0Bytes = v.getUint32(268, true);
  o.receivedCeBytes = v.getUint32(272, true);
  o.ecnMode = (v.getUint32(276, true) >>> 0) & 3;
  o.accecnOptSeen = (v.getUint32(276, true) >>> 2) & 3;
  o.accecnFailMode = (v.getUint32(276, true) >>> 4) & 15;
  return o;
}

module.exports = { decodeInto, preallocated };
