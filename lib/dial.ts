/**
 * Dial: client sockets with their options set before connect(), which Node cannot do (it creates
 * the socket and connects in one step). The addon creates the socket, the options are set, and the
 * fd is adopted by a `net.Socket` that connects it. Host names are resolved here and the addresses
 * raced here, as Node's autoSelectFamily does (RFC 8305's spirit): Node's own racing would replace
 * the adopted socket with a fresh one that has none of the options (measured: TCP_SYNCNT 3 became
 * 6, same fd number), so a socket is handed back only once one of ours has connected.
 */
import type net = require('node:net');
import { compileDial, type DialOptions, type DialPlan } from './dial/plan';
import { dialPlanned } from './dial/race';

export type { DialOptions, DialerOptions } from './dial/plan';
export { dialAgent, dialConnector, type DialConnectorOptions } from './dial/adapters';

/**
 * A connected `net.Socket` whose options were set before connect(): the name resolved here, its
 * addresses raced (each attempt a fresh socket of its family, the options set, adopted and connected
 * in the same tick; the first to connect wins, the others are closed). It behaves like
 * `net.connect()`'s socket (events, `setTimeout`, `tls.connect({ socket })` on top). Rejects with the
 * package's typed errors.
 */
export function dial(options: DialOptions): Promise<net.Socket> {
  let plan: DialPlan;
  try {
    plan = compileDial(options);
  } catch (err) {
    return Promise.reject(err);
  }
  return dialPlanned(plan);
}
