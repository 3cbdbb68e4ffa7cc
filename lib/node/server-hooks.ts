/**
 * The attachment layer's server hooks (net.Server and everything built on it): each server that
 * starts listening, each accepted socket and http2 session before the server's own handlers, and
 * which tuning registration holds a server.
 */
import type net = require('node:net');
import { netClasses } from '../core/builtins';
import { existing, guarded, registryOf } from './registry';

// Servers starting to listen. Node publishes 'tracing:net.server.listen:asyncEnd' synchronously inside
// listen(), right after listen(2) (after the host lookup when a host is given), from 20.16 and 22.3 on
// (20.15.0 and 22.2.0 never publish it): a listener tuned there has no window in which the kernel
// completes handshakes with its old options before the application's code runs again. One
// subscription for the whole package copy; per-server callbacks are held weakly.
const LISTEN_CHANNEL = 'tracing:net.server.listen:asyncEnd';

/** Whether this Node publishes the listen channel. */
export function hasListenChannel(version = process.versions.node): boolean {
  const [major, minor] = version.split('.').map(Number) as [number, number];
  return major > 22 || (major === 22 && minor >= 3) || (major === 20 && minor >= 16);
}

const listening = {
  perServer: new WeakMap<net.Server, Set<() => void>>(),
  any: new Set<(server: net.Server) => void>(),
  subscribed: false,
};

function onListenMessage(message: unknown): void {
  const server = (message as { server?: unknown } | null)?.server;
  if (!(server instanceof netClasses().Server)) return;
  const own = listening.perServer.get(server);
  if (own) for (const fn of [...own]) guarded(fn);
  for (const fn of [...listening.any]) guarded(() => fn(server));
}

function subscribeListening(): void {
  if (listening.subscribed || !hasListenChannel()) return;
  (require('node:diagnostics_channel') as typeof import('node:diagnostics_channel')).subscribe(LISTEN_CHANNEL, onListenMessage);
  listening.subscribed = true;
}

function unsubscribeIfIdle(): void {
  // perServer is a WeakMap (it cannot be counted): the subscription stays while anything registered.
  if (!listening.subscribed || listening.any.size > 0 || listeningCount > 0) return;
  (require('node:diagnostics_channel') as typeof import('node:diagnostics_channel')).unsubscribe(LISTEN_CHANNEL, onListenMessage);
  listening.subscribed = false;
}
let listeningCount = 0;

/**
 * Calls `fn` each time `server` starts listening, as early as Node tells: inside listen() where the
 * channel exists, else at 'listening' (the caller also listens for 'listening'; `fn` must be
 * idempotent per listen). Held weakly by server. Returns the unregistration.
 */
export function onServerListening(server: net.Server, fn: () => void): () => void {
  let set = listening.perServer.get(server);
  if (!set) listening.perServer.set(server, (set = new Set()));
  set.add(fn);
  listeningCount++;
  subscribeListening();
  let done = false;
  return () => {
    if (done) return;
    done = true;
    set.delete(fn);
    listeningCount--;
    unsubscribeIfIdle();
  };
}

/** Calls `fn` with every server of the process that starts listening (needs the channel). Returns the unregistration. */
export function onAnyServerListening(fn: (server: net.Server) => void): () => void {
  listening.any.add(fn);
  subscribeListening();
  return () => {
    listening.any.delete(fn);
    unsubscribeIfIdle();
  };
}

type Session = { socket: net.Socket; destroy(err?: Error): void };

/** The callbacks of one server event, and the one prepended listener that calls them, while any is registered. */
interface EventHooks<T> {
  readonly callbacks: Set<(value: T) => void>;
  listener: ((value: T) => void) | null;
}

interface ServerHooks {
  /** Called for each accepted socket, before the server's own 'connection' handlers (prepended). */
  readonly connection: EventHooks<net.Socket>;
  /** Called for each http2 session, before the server's own 'session' handlers. */
  readonly session: EventHooks<Session>;
  /** The tuning registration now in force: an explicit tuneServer() wins over tuneServers(). */
  owner: ServerOwner | null;
}

/** A registration that tunes a server: replaced, it undoes what it set on the listener. */
export interface ServerOwner {
  /** True for tuneServer() (and listen({ tuning })), false for tuneServers(). */
  readonly explicit: boolean;
  replaced(): void;
}

function serverHooks(server: net.Server): ServerHooks {
  return registryOf<ServerHooks>(server, () => ({
    connection: { callbacks: new Set(), listener: null },
    session: { callbacks: new Set(), listener: null },
    owner: null,
  }));
}

/** Registers `fn` for `event` on `server` through one prepended listener, installed while anything is registered. */
function onServerEvent<T>(server: net.Server, event: string, hooks: EventHooks<T>, fn: (value: T) => void): () => void {
  hooks.callbacks.add(fn);
  if (!hooks.listener) {
    hooks.listener = (value) => {
      for (const each of [...hooks.callbacks]) guarded(() => each(value));
    };
    server.prependListener(event, hooks.listener);
  }
  return () => {
    hooks.callbacks.delete(fn);
    if (hooks.callbacks.size === 0 && hooks.listener) {
      server.removeListener(event, hooks.listener);
      hooks.listener = null;
    }
  };
}

/**
 * Calls `fn` with each socket `server` accepts, before the server's own 'connection' handlers (a
 * prepended listener: after Node's own per-connection keepAlive and noDelay, before a
 * `createServer(handler)` handler, so that handler already sees what `fn` did). Returns the
 * unregistration.
 */
export function onServerConnection(server: net.Server, fn: (socket: net.Socket) => void): () => void {
  return onServerEvent(server, 'connection', serverHooks(server).connection, fn);
}

/** Calls `fn` with each http2 session of `server`, before the server's own 'session' handlers. Returns the unregistration. */
export function onServerSession(server: net.Server, fn: (session: Session) => void): () => void {
  return onServerEvent(server, 'session', serverHooks(server).session, fn);
}

/**
 * Makes `owner` the server's tuning registration, if it may: an explicit one (tuneServer) always
 * replaces the one in force, whatever its kind and order; a process-wide one (tuneServers) never
 * replaces an explicit one. Returns false where `owner` does not get the server.
 */
export function claimServer(server: net.Server, owner: ServerOwner): boolean {
  const hooks = serverHooks(server);
  const previous = hooks.owner;
  if (previous && previous !== owner && previous.explicit && !owner.explicit) return false;
  hooks.owner = owner;
  if (previous && previous !== owner) previous.replaced();
  return true;
}

/** Releases `owner`'s claim (if it still holds it). */
export function releaseServer(server: net.Server, owner: ServerOwner): void {
  const hooks = existing<ServerHooks>(server);
  if (hooks && hooks.owner === owner) hooks.owner = null;
}
