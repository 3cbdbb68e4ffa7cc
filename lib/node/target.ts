/**
 * Finds the file descriptor behind a target, at every call: never cached, because Node replaces a
 * socket's handle during connection attempts (autoSelectFamily) and because a cached number could
 * by now belong to another file.
 */
import type dgram = require('node:dgram');
import type net = require('node:net');
import { dgram as dgramModule, netClasses } from '../core/builtins';
import { SocketOptionError, SocketStateError } from '../core/errors';
import { INT32_MAX, NOT_SHOWN, invalidType, invalidValue, outOfRange } from '../core/validate';

/** What socket-knobs can act on: a connected TCP (or TLS, or Unix) socket, a listening server, a bound UDP socket, or a raw fd. */
export type Target = net.Socket | net.Server | dgram.Socket | number;

interface HandleLike {
  fd?: unknown;
  /** A TLS socket's handle wraps the TCP handle that owns the fd. */
  _parent?: HandleLike | null;
}

const IS_WINDOWS = process.platform === 'win32';

// Deliberately not a fallback to Node's own socket.setKeepAlive(): Node ignores its errors and
// nothing can be read back, so a tuning would silently not hold (and it forces interval and count).
const WINDOWS_MESSAGE =
  "Node's sockets on Windows have no file descriptor (libuv keeps its SOCKET handle to itself), so socket-knobs cannot reach them " +
  "or read anything back; Node's own socket.setKeepAlive(true, ms) and setNoDelay() set what they can there, unverified";

/**
 * The fd a Node handle holds: -1 where it has none yet. Whatever else is there (a fake or damaged
 * handle: 18.7, 18 + 2**32, NaN) is refused, never rounded or wrapped onto another fd.
 */
function handleFd(handle: HandleLike | null | undefined, name: string): number {
  if (!handle) return -1;
  let fd = handle.fd;
  if (typeof fd !== 'number' && handle._parent) fd = handle._parent.fd;
  // libuv reports "no fd yet" as -1, or as a negative errno (-9, EBADF, for an unbound UDP socket).
  if (typeof fd !== 'number' || (Number.isInteger(fd) && fd < 0)) return -1;
  if (!Number.isInteger(fd) || fd > INT32_MAX || Object.is(fd, -0)) {
    throw invalidValue(name, 'has a handle whose fd is not a file descriptor (not a Node socket, or a damaged one)', fd);
  }
  return fd;
}

/** The fd of `target`, or a typed error saying why there is none. */
export function fdOf(target: unknown, name = 'target'): number {
  if (typeof target === 'number') {
    if (!Number.isInteger(target) || target < 0 || target > INT32_MAX || Object.is(target, -0)) {
      throw outOfRange(name, `a file descriptor: an integer >= 0 && <= ${INT32_MAX}`, target);
    }
    // On Windows a number is a SOCKET handle's value (Node exposes none of its own; probe() opens
    // its own): a number that is not a socket gets Winsock's ENOTSOCK from the call, typed.
    return target;
  }
  try {
    return objectFd(target, name);
  } catch (err) {
    // A Proxy (or an object with throwing getters) posing as a socket: its own error must not
    // escape as if it came from socket-knobs, and nothing was done.
    if (err instanceof SocketOptionError) throw err;
    throw invalidValue(name, 'could not be inspected (a Proxy trap or getter threw)', NOT_SHOWN);
  }
}

/** Why a net.Socket has no fd to act on: the error for the state it is in. */
function socketFdError(target: net.Socket): SocketOptionError {
  if (IS_WINDOWS) return new SocketStateError('ERR_SOCKET_NO_FD', WINDOWS_MESSAGE);
  if (target.destroyed) {
    return new SocketStateError(
      'ERR_SOCKET_CLOSED',
      'The socket is destroyed: its file descriptor is closed (and its number may already belong to another file)',
    );
  }
  // A socket that is still connecting may already have an fd, but not the one it will keep:
  // with autoSelectFamily Node closes it and opens a new socket (often with the same number) for
  // the next address, and what was set on the first one is silently gone at 'connect'.
  if (target.connecting) {
    return new SocketStateError(
      'ERR_SOCKET_NO_FD',
      "The socket is still connecting: Node may replace its file descriptor while it tries each address, so options set now could be lost. Call this in its 'connect' handler (or use tuneOnConnect())",
    );
  }
  return new SocketStateError(
    'ERR_SOCKET_NO_FD',
    "The socket is not connected and has no file descriptor: call this in its 'connect' handler (or, on a server, in the 'connection' handler)",
  );
}

function objectFd(target: unknown, name: string): number {
  const { Socket, Server } = netClasses();
  if (target instanceof Socket) {
    // The path every call on a connected socket takes, kept small enough for V8 to inline into the
    // caller (each throw below made it too large: 100 ns more per call, after a syscall's cache
    // and TLB misses); every other state is socketFdError's to name. `destroyed` is not read here
    // (its getter reads two more objects): a handle's fd is open, and this socket's, until the
    // handle is closed, which sets it to -1 (libuv's uv_close) before destroy() drops the handle.
    if (!IS_WINDOWS && !target.connecting) {
      const fd = handleFd((target as unknown as { _handle?: HandleLike | null })._handle, name);
      if (fd >= 0) return fd;
    }
    throw socketFdError(target);
  }
  return serverOrUdpFd(target, Server, name);
}

/** The fd of a listening server or a bound UDP socket (anything else is refused). */
function serverOrUdpFd(target: unknown, Server: typeof net.Server, name: string): number {
  if (target instanceof Server) {
    if (IS_WINDOWS) throw new SocketStateError('ERR_SOCKET_NO_FD', WINDOWS_MESSAGE);
    const fd = listenerFd(target, name);
    if (fd === 'primary') {
      throw new SocketStateError(
        'ERR_SOCKET_NO_FD',
        "The server's listening socket belongs to the cluster primary (round-robin scheduling): this worker has no file descriptor for it. " +
          'Use tuneServer(server, tuning), which tunes each accepted socket, or listen with knobs.listen(server, { reusePort: true }) so that the worker owns its socket (or set cluster.schedulingPolicy = cluster.SCHED_NONE)',
      );
    }
    if (fd < 0) {
      throw new SocketStateError(
        'ERR_SOCKET_NO_FD',
        'The server is not listening (yet: listen() with a host resolves it first; or listen() failed, say EADDRINUSE): ' +
          "call this in the listen() callback or its 'listening' handler, or use tuneServer(server, tuning), which waits for 'listening'",
      );
    }
    return fd;
  }
  if (target instanceof dgramModule().Socket) {
    if (IS_WINDOWS) throw new SocketStateError('ERR_SOCKET_NO_FD', WINDOWS_MESSAGE);
    const state = dgramState(target);
    if (!state || !state.handle) {
      throw new SocketStateError('ERR_SOCKET_CLOSED', 'The UDP socket is closed: its file descriptor is gone');
    }
    const fd = handleFd(state.handle, name);
    if (fd < 0) {
      throw new SocketStateError(
        'ERR_SOCKET_NO_FD',
        "The UDP socket is not bound and has no file descriptor yet: call this in the bind() callback or its 'listening' handler",
      );
    }
    return fd;
  }
  throw invalidType(name, 'an instance of net.Socket, net.Server or dgram.Socket, or a file descriptor (integer)', target);
}

/**
 * The fd a socket's handle holds now, or -1: no state checks. For reading a socket that is being
 * destroyed, from inside its own `_destroy` (its fd is still open there, but `destroyed` is
 * already true, so every public call refuses it: observe()'s final sample).
 */
export function openHandleFd(socket: net.Socket): number {
  try {
    return handleFd((socket as unknown as { _handle?: HandleLike | null })._handle, 'socket');
  } catch {
    return -1;
  }
}

/**
 * The fd of a server's listening socket; -1 when it is not listening; 'primary' in a cluster worker
 * under round-robin scheduling, where the worker listens through a handle of the primary's that
 * has no fd (measured on Node 20-26: a plain object with close/listen/ref/unref/getsockname).
 */
export function listenerFd(server: net.Server, name = 'server'): number | 'primary' {
  const handle = (server as unknown as { _handle?: HandleLike | null })._handle;
  const fd = handleFd(handle, name);
  if (fd >= 0) return fd;
  if (!server.listening || !handle || typeof handle.fd === 'number') return -1;
  // Only a worker listens without an fd; node:cluster is loaded already in one.
  return (require('node:cluster') as import('node:cluster').Cluster).isWorker ? 'primary' : -1;
}

/**
 * A dgram.Socket keeps its handle under a symbol-keyed state object (`Symbol(state symbol)`, Node
 * 20 through 26; Node 26 removed the `_handle` alias). The symbol is looked up on each socket, not
 * remembered from the first one seen: an object posing as a dgram.Socket with a symbol of its own
 * must not decide how every real socket afterwards is read.
 */
function dgramState(socket: dgram.Socket): { handle?: HandleLike | null } | undefined {
  const symbol = Object.getOwnPropertySymbols(socket).find((sym) => sym.description === 'state symbol');
  return symbol ? (socket as unknown as Record<symbol, { handle?: HandleLike | null }>)[symbol] : undefined;
}
