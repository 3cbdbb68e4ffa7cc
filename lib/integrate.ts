/**
 * Tuning the sockets an application does not create itself: a client's socket once it connects,
 * every socket of an http(s).Agent (also after pool reuse), and every socket of an undici-style
 * connector (undici's Agent, and through it the global fetch).
 */
import http = require('node:http');
import net = require('node:net');
import { SocketOptionError, SocketStateError } from './errors';
import { applyPlan, compileTuning, type Plan, type Tuning } from './tuning';
import { invalidType, invalidValue, isInstance } from './validate';

/**
 * Applies `plan` once `socket` has connected. Node's own `keepAlive: true` handling runs just
 * before 'connect', so a listener added here runs after it and is not overwritten by it. A socket
 * still connecting is not touched: with autoSelectFamily its fd is replaced for each address tried.
 * A failure that can no longer be thrown destroys the socket with the SyscallError, so it is seen
 * as the socket's 'error' (or a failed request), never lost.
 */
function onConnect(socket: net.Socket, plan: Plan): void {
  const apply = (): void => {
    try {
      applyPlan(socket, plan);
    } catch (err) {
      socket.destroy(err as Error);
    }
  };
  if (isConnected(socket)) apply();
  // once(): Node's keepAlive handling is done by then; with autoSelectFamily, 'connect' is only
  // emitted for the socket that finally connected.
  else if (!socket.destroyed) socket.once('connect', apply);
}

/** The part of an `http2.Http2Session` used here (Node exports no class to test with instanceof). */
interface Http2SessionLike {
  readonly socket: net.Socket;
  readonly connecting?: boolean;
  readonly destroyed: boolean;
  destroy(error?: Error): void;
  once(event: 'connect', listener: () => void): unknown;
}

/**
 * An http2 session, client or server, recognised by what only sessions have: `ping`, `settings`,
 * `goaway` and a numeric `type`. (`node:http2` is not loaded for this.)
 */
function isHttp2Session(value: unknown): value is Http2SessionLike {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return typeof v.ping === 'function' && typeof v.settings === 'function' && typeof v.goaway === 'function' && typeof v.type === 'number';
}

/**
 * True for a socket that cannot be destroyed: an http2 session's `socket` is a Proxy that throws
 * ERR_HTTP2_NO_SOCKET_MANIPULATION on `destroy` (and `emit`), so a refusal at 'connect' could
 * only be thrown from inside Node's event, uncaught.
 */
function refusesDestroy(socket: net.Socket): boolean {
  try {
    return typeof socket.destroy !== 'function';
  } catch {
    return true;
  }
}

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
  session.once('connect', () => {
    try {
      applyPlan(session.socket, plan);
    } catch (err) {
      session.destroy(err as Error);
    }
  });
}

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
  let session = false;
  try {
    session = isHttp2Session(socket);
  } catch {
    throw invalidValue('socket', 'could not be inspected (a Proxy trap or getter threw)', undefined);
  }
  if (session) {
    tuneSession(socket as Http2SessionLike, plan);
    return socket;
  }
  if (!isInstance(socket, net.Socket, 'socket')) throw invalidType('socket', 'an instance of net.Socket or an http2 session', socket);
  const tcp = socket as net.Socket;
  if (refusesDestroy(tcp)) {
    throw invalidValue(
      'socket',
      "is an http2 session's socket, a Proxy that refuses destroy(): pass the session itself, tuneOnConnect(session, tuning)",
      undefined,
    );
  }
  let connected: boolean;
  try {
    connected = isConnected(tcp);
    if (!connected) onConnect(tcp, plan);
  } catch {
    // A Proxy posing as a socket, whose traps throw: its own error must not escape as ours.
    throw invalidValue('socket', 'could not be inspected (a Proxy trap or getter threw)', undefined);
  }
  // Connected already: apply now, and a failure is thrown to the caller like any other call's.
  if (connected) applyPlan(tcp, plan);
  return socket;
}

function isConnected(socket: net.Socket): boolean {
  return !socket.connecting && !socket.destroyed && !socket.pending;
}

const tunedAgents = new WeakMap<http.Agent, Plan>();

type CreateConnection = (options: unknown, callback?: (err: Error | null, socket?: net.Socket) => void) => net.Socket | undefined;

/**
 * Tunes every socket of an `http.Agent` or `https.Agent` when it connects, and again each time a
 * kept-alive socket returns to the pool: on Node 20 and 22 an https.Agent with `keepAlive` calls
 * `socket.setKeepAlive(true, keepAliveMsecs)` there, which resets interval and count. Returns the
 * agent. Calling it again on the same agent replaces the tuning.
 */
export function tuneAgent<A extends http.Agent>(agent: A, tuning: Tuning): A {
  const plan = compileTuning(tuning);
  if (!isInstance(agent, http.Agent, 'agent')) throw invalidType('agent', 'an instance of http.Agent or https.Agent', agent);
  const already = tunedAgents.has(agent);
  tunedAgents.set(agent, plan);
  if (already) return agent;
  const self = agent as unknown as { createConnection: CreateConnection; keepSocketAlive(socket: net.Socket): boolean };
  const createConnection = self.createConnection;
  // A socket may come back as the return value, through the callback, or both: tuned once.
  const seen = new WeakSet<net.Socket>();
  const tuneNew = (socket: unknown): void => {
    if (!(socket instanceof net.Socket) || seen.has(socket)) return;
    seen.add(socket);
    onConnect(socket, tunedAgents.get(agent)!);
  };
  self.createConnection = function tunedCreateConnection(this: unknown, options, callback) {
    const wrapped = typeof callback === 'function'
      ? (err: Error | null, socket?: net.Socket) => {
          if (!err) tuneNew(socket);
          callback(err, socket);
        }
      : callback;
    const returned = createConnection.call(this, options, wrapped);
    tuneNew(returned);
    return returned;
  };
  const keepSocketAlive = self.keepSocketAlive;
  self.keepSocketAlive = function tunedKeepSocketAlive(this: unknown, socket: net.Socket): boolean {
    if (!keepSocketAlive.call(this, socket)) return false;
    try {
      applyPlan(socket, tunedAgents.get(agent)!);
      return true;
    } catch (err) {
      // The socket cannot be tuned (it closed meanwhile): do not keep it in the pool.
      if (err instanceof SocketOptionError) return false;
      throw err;
    }
  };
  return agent;
}

/** An undici-style connector: `(options, callback)` calling back with a connected socket. */
export type Connector<O = unknown, S extends net.Socket = net.Socket> = (options: O, callback: (err: Error | null, socket: S | null) => void) => unknown;

/**
 * Wraps an undici-style connector (`undici.buildConnector(...)`, or your own) so that its callback
 * receives a tuned socket: `new undici.Agent({ connect: knobs.tuneConnector(buildConnector({}), tuning) })`,
 * and with `setGlobalDispatcher` the global `fetch` too. undici calls back after its own keepalive
 * and no-delay settings, so nothing of undici's overwrites the tuning. If the kernel refuses it, the
 * socket is destroyed and the callback gets the SyscallError (the request fails with it).
 */
export function tuneConnector<O, S extends net.Socket>(connect: Connector<O, S>, tuning: Tuning): Connector<O, S> {
  const plan = compileTuning(tuning);
  if (typeof connect !== 'function') throw invalidType('connect', 'of type function', connect);
  return function tunedConnector(this: unknown, options, callback) {
    return connect.call(this, options, (err, socket) => {
      if (err || !socket) {
        callback(err, socket);
        return;
      }
      try {
        applyPlan(socket, plan);
      } catch (error) {
        socket.destroy();
        callback(error as Error, null);
        return;
      }
      callback(null, socket);
    });
  };
}
