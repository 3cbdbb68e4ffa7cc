/**
 * The one module that recognises Node's kinds of object, so a Node release that changes an internal
 * has one home: servers (http2's), http2 sessions and their socket Proxy, agents, TLS sockets (the
 * handle that owns the fd), and cluster workers (lib/node/target.ts's listenerFd). Nothing here
 * loads a module an application has not loaded (node:http2 never; node:http only to check an agent).
 */
import type net = require('node:net');
import type http = require('node:http');
import { http as httpModule, netClasses } from '../core/builtins';
import { familyOfAddress, type ListenerFamily } from '../core/inheritance';
import { invalidType, isInstance } from '../core/validate';

/** Throws unless `value` is a net.Server (http, https, http2, tls and frameworks' servers all are). */
export function assertServer(value: unknown, name = 'server'): asserts value is net.Server {
  if (!isInstance(value, netClasses().Server, name)) throw invalidType(name, 'an instance of net.Server (http, https, http2 and tls servers are)', value);
}

/** An http2 server (Node exports no class to test): it has updateSettings(). */
export function isHttp2Server(server: net.Server): boolean {
  return typeof (server as unknown as { updateSettings?: unknown }).updateSettings === 'function';
}

/** The part of an `http2.Http2Session` used here (Node exports no class to test with instanceof). */
export interface Http2SessionLike {
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
export function isHttp2Session(value: unknown): value is Http2SessionLike {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return typeof v.ping === 'function' && typeof v.settings === 'function' && typeof v.goaway === 'function' && typeof v.type === 'number';
}

/**
 * True for a socket that refuses to be managed: an http2 session's `socket` is a Proxy that throws
 * ERR_HTTP2_NO_SOCKET_MANIPULATION on `emit` (Node 20 to 26) and, before Node 24, on `destroy`, so
 * neither a 'connect' listener nor a refusal there could work (it would be thrown from inside
 * Node's event, uncaught).
 */
export function refusesManipulation(socket: net.Socket): boolean {
  for (const method of ['destroy', 'emit'] as const) {
    try {
      if (typeof socket[method] !== 'function') return true;
    } catch {
      return true;
    }
  }
  return false;
}

/** Whether `value` is an http.Agent (or https.Agent): node:http is loaded only when one is checked. */
export function isAgent(value: unknown, name = 'agent'): value is http.Agent {
  return isInstance(value, httpModule().Agent, name);
}

/** An http.Agent (or https.Agent) by its shape, recognised without loading node:http when it is not one. */
export function looksLikeAgent(value: object): boolean {
  const v = value as { createConnection?: unknown; keepSocketAlive?: unknown; freeSockets?: unknown };
  return typeof v.createConnection === 'function' && typeof v.keepSocketAlive === 'function' && typeof v.freeSockets === 'object';
}

/** The libuv handle that owns `socket`'s fd now (a TLS socket's TLSWrap has none: its TCP parent does), or null. */
export function ownerHandle(socket: net.Socket): object | null {
  const handle = (socket as unknown as { _handle?: { fd?: unknown; _parent?: { fd?: unknown } | null } | null })._handle;
  if (!handle) return null;
  if (typeof handle.fd === 'number') return handle;
  return handle._parent && typeof handle._parent.fd === 'number' ? handle._parent : null;
}

/** The object that owns a listening server's fd now (its handle), or null: a re-listen gets a new one. */
export function serverHandle(server: net.Server): object | null {
  return ((server as unknown as { _handle?: object | null })._handle ?? null) as object | null;
}

/** The address family `server` listens on (undefined while it does not listen). */
export function serverFamily(server: net.Server): ListenerFamily | undefined {
  try {
    // A cluster worker's round-robin handle answers address() with {} even for a pipe: Node's own
    // record of the path comes first.
    if (typeof (server as unknown as { _pipeName?: unknown })._pipeName === 'string') return 'unix';
    return familyOfAddress(server.address());
  } catch {
    return undefined;
  }
}

/** The handle a net.Socket made around an fd holds (listen(): handed to the server, closed on failure). */
export function adoptedHandle(socket: net.Socket): { close(): void } {
  return (socket as unknown as { _handle: { close(): void } })._handle;
}

/** A socket over a Unix-domain (or Windows pipe) handle: Node's Pipe, not TCP. */
export function isUnixSocket(socket: net.Socket): boolean {
  const handle = (socket as unknown as { _handle?: { constructor?: { name?: unknown } } | null })._handle;
  return !!handle && handle.constructor?.name === 'Pipe';
}
