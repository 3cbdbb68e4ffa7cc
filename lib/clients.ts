/**
 * Tuning the sockets an application does not create itself: a client's socket once it connects (or
 * an http2 session's), every socket of an http(s).Agent (also after pool reuse), and every socket of
 * an undici-style connector (undici's Agent, and through it the global fetch). The machinery is the
 * attachment layer (lib/node/hooks.ts, through lib/tuning/attach.ts), shared with observe() and dial.
 */
import type net = require('node:net');
import { net as netModule } from './core/builtins';
import { SocketStateError } from './core/errors';
import { NOT_SHOWN, invalidType, invalidValue, isInstance } from './core/validate';
import { compileTuning, type Plan, type Tuning } from './tuning/tuning';
import { applyPlan } from './tuning/apply';
import { isConnected, type AnyConnector } from './node/hooks';
import { isAgent, isHttp2Session, refusesManipulation, type Http2SessionLike } from './node/kinds';
import { setAgentTuning, tunedConnector, tuneWhenConnected } from './tuning/attach';
import type http = require('node:http');

export type { AnyConnector, Connector, ConnectorCallback } from './node/hooks';

/**
 * Tunes an http2 session's connection: now if it is connected (a failure throws), else at its
 * 'connect', where a refusal becomes `session.destroy(err)`: the session's 'error' event.
 */
function tuneSession(session: Http2SessionLike, plan: Plan): void {
  if (session.destroyed) throw new SocketStateError('ERR_SOCKET_CLOSED', 'The http2 session is destroyed: its connection is closed');
  if (!session.connecting) {
    applyPlan(session.socket, plan);
    return;
  }
  // One pending tuning per session, as per socket: the last call wins, one listener.
  const waiting = pendingSessions.has(session);
  pendingSessions.set(session, plan);
  if (waiting) return;
  session.once('connect', () => {
    const current = pendingSessions.get(session)!;
    pendingSessions.delete(session);
    try {
      applyPlan(session.socket, current);
    } catch (err) {
      session.destroy(err as Error);
    }
  });
}

const pendingSessions = new WeakMap<Http2SessionLike, Plan>();

/**
 * Validates `tuning` now (throws synchronously on a bad one) and applies it to `socket` at once if
 * it is connected (a failure then throws), else when it connects. Returns the socket. If the
 * kernel refuses the tuning at `'connect'`, where nothing can be thrown to the caller any more, the
 * socket is destroyed with the SyscallError: its `'error'` event, as for any socket error.
 *
 * An `http2.Http2Session` (client or server) may be passed instead of a socket: its connection is
 * tuned, and a refusal at `'connect'` destroys the session (its `'error'` event). The session's
 * `socket` property alone is refused: it is a Proxy that cannot be destroyed.
 */
export function tuneOnConnect<S extends net.Socket | Http2SessionLike>(socket: S, tuning: Tuning): S {
  const plan = compileTuning(tuning);
  let session: boolean;
  try {
    session = isHttp2Session(socket);
  } catch {
    throw invalidValue('socket', 'could not be inspected (a Proxy trap or getter threw)', NOT_SHOWN);
  }
  if (session) {
    tuneSession(socket as Http2SessionLike, plan);
    return socket;
  }
  if (!isInstance(socket, netModule().Socket, 'socket')) throw invalidType('socket', 'an instance of net.Socket or an http2 session', socket);
  const tcp = socket as net.Socket;
  if (refusesManipulation(tcp)) {
    throw invalidValue(
      'socket',
      "is an http2 session's socket, a Proxy that refuses emit() and destroy(): pass the session itself, tuneOnConnect(session, tuning)",
      NOT_SHOWN,
    );
  }
  let connected: boolean;
  try {
    if (tcp.destroyed) {
      throw new SocketStateError('ERR_SOCKET_CLOSED', 'The socket is destroyed: it will not connect again, so the tuning could never apply');
    }
    connected = isConnected(tcp);
    // Still connecting: one pending tuning per socket, this one replacing any left before.
    if (!connected) tuneWhenConnected(tcp, plan);
  } catch (err) {
    if (err instanceof SocketStateError) throw err;
    // A Proxy posing as a socket, whose traps throw: its own error must not escape as ours.
    throw invalidValue('socket', 'could not be inspected (a Proxy trap or getter threw)', NOT_SHOWN);
  }
  // Connected already: apply now, and a failure is thrown to the caller like any other call's.
  if (connected) applyPlan(tcp, plan);
  return socket;
}

/**
 * Tunes every socket of an `http.Agent` or `https.Agent`: those it already has (in use and pooled),
 * each new one when it connects, and each again when it returns to the pool (on Node 20 and 22 an
 * https.Agent with `keepAlive` calls `socket.setKeepAlive(true, keepAliveMsecs)` there, which resets
 * interval and count). Returns the agent. Calling it again on the same agent replaces the tuning.
 * A socket the kernel refuses the tuning for is destroyed with the SyscallError.
 */
export function tuneAgent<A extends http.Agent>(agent: A, tuning: Tuning): A {
  const plan = compileTuning(tuning);
  if (!isAgent(agent)) throw invalidType('agent', 'an instance of http.Agent or https.Agent', agent);
  setAgentTuning(agent, plan);
  return agent;
}

/**
 * Wraps an undici-style connector (`undici.buildConnector(...)`, or your own) so that its callback
 * receives a tuned socket: `new undici.Agent({ connect: knobs.tuneConnector(buildConnector({}), tuning) })`,
 * and with `setGlobalDispatcher` the global `fetch` too. undici calls back after its own keepalive
 * and no-delay settings, so nothing of undici's overwrites the tuning. If the kernel refuses it, the
 * socket is destroyed and the callback gets the SyscallError (the request fails with it).
 */
export function tuneConnector<C extends AnyConnector>(connect: C, tuning: Tuning): C {
  const plan = compileTuning(tuning);
  if (typeof connect !== 'function') throw invalidType('connect', 'of type function', connect);
  return tunedConnector(connect, plan);
}
