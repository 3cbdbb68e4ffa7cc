/**
 * The attachment layer's registry: one home for how socket-knobs holds on to Node's objects (a
 * socket, an http(s).Agent, a connector, a server). Plain hooks (onSocketClosing, whenConnected,
 * onAgentSocket, onPoolReturn, wrapConnector, onServerConnection, onServerSession,
 * onServerListening, claimServer): each object's state lives under a module-private symbol and is
 * installed once, however many features use it (tunings through lib/tuning/attach.ts, observe,
 * dial); features register and unregister, and never chain wrappers around each other. It knows
 * nothing of tunings, and holds what it watches weakly (the object itself, or a WeakMap).
 *
 * Its invariants (test/integration/attachment.test.js, test/fuzz/lifecycle.js):
 * - every wrapper composes: ours comes off only while it is still the outermost, so another copy's,
 *   an APM library's or another feature's stays;
 * - nothing a user lets go is kept: registrations die with their object;
 * - a callback never breaks Node's own code path: what it throws is a process warning.
 *
 * Nothing here makes a syscall; it decides when the features' callbacks run.
 */
import type net = require('node:net');
import { net as netModule } from '../core/builtins';
import { warn } from '../core/errors';

const HOOKS = Symbol('socket-knobs.hooks');

type Holder<T> = { [HOOKS]?: T };

/** `object[HOOKS]`, created by `make` the first time. */
function registryOf<T>(object: object, make: () => T): T {
  const holder = object as Holder<T>;
  if (!Object.hasOwn(holder, HOOKS)) Object.defineProperty(holder, HOOKS, { value: make(), configurable: true, enumerable: false, writable: false });
  return holder[HOOKS]!;
}

/** The registry of `object` if it has one. */
function existing<T>(object: object): T | undefined {
  return Object.hasOwn(object, HOOKS) ? (object as Holder<T>)[HOOKS] : undefined;
}

/** Calls `fn`, and turns what it throws into a process warning: a feature's callback never breaks Node's own code path. */
function guarded(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    warn(err, 'SOCKET_KNOBS_HOOK');
  }
}

// ---------------------------------------------------------------------------------------------
// Sockets.

/** Whether a socket has connected and still owns its fd. */
export function isConnected(socket: net.Socket): boolean {
  return !socket.connecting && !socket.destroyed && !socket.pending;
}

interface SocketHooks {
  /** One pending callback per slot (a feature's key): the last registration in a slot wins, whole. */
  readonly connectSlots: Map<symbol, () => void>;
  /** The 'connect' listener, while one is installed. */
  onConnect: (() => void) | null;
  /** Called from the socket's `_destroy`, while its fd is still open (observe's final sample). */
  readonly closing: Set<(socket: net.Socket) => void>;
  /** The `_destroy` own property the socket had before ours (undefined: it used its prototype's). */
  ownDestroy: PropertyDescriptor | undefined;
  /** Our `_destroy` wrapper, once installed (it stays while anyone wrapped it after us). */
  destroyWrapper: ((err: Error | null, cb: (err?: Error | null) => void) => void) | null;
}

function socketHooks(socket: net.Socket): SocketHooks {
  return registryOf<SocketHooks>(socket, () => ({ connectSlots: new Map(), onConnect: null, closing: new Set(), ownDestroy: undefined, destroyWrapper: null }));
}

/**
 * Runs `fn` once when `socket` emits 'connect', in `slot`: a later registration in the same slot
 * replaces this one (one pending per slot). Node's own `keepAlive: true` handling runs just before
 * 'connect', so `fn` runs after it. A socket still connecting is never touched: with
 * autoSelectFamily its fd is replaced for each address tried, and 'connect' is only emitted for the
 * one that finally connected. What `fn` throws is a process warning.
 */
export function whenConnected(socket: net.Socket, slot: symbol, fn: () => void): void {
  const hooks = socketHooks(socket);
  hooks.connectSlots.set(slot, fn);
  if (hooks.onConnect) return;
  const onConnect = (): void => {
    hooks.onConnect = null;
    const due = [...hooks.connectSlots.values()];
    hooks.connectSlots.clear();
    for (const each of due) guarded(each);
  };
  hooks.onConnect = onConnect;
  socket.once('connect', onConnect);
}

/** Whether something waits for `socket`'s 'connect' in `slot`. */
export function isWaiting(socket: net.Socket, slot: symbol): boolean {
  return existing<SocketHooks>(socket)?.connectSlots.has(slot) === true;
}

/**
 * Registers `fn` to run in `socket`'s `_destroy`, before Node closes the fd, on every close path
 * (peer FIN, end(), destroy(), destroy(err), RST, timeout). Returns the unregistration.
 */
export function onSocketClosing(socket: net.Socket, fn: (socket: net.Socket) => void): () => void {
  const hooks = socketHooks(socket);
  hooks.closing.add(fn);
  if (!hooks.destroyWrapper) {
    hooks.ownDestroy = Object.getOwnPropertyDescriptor(socket, '_destroy');
    const original = (socket as unknown as { _destroy: (err: Error | null, cb: (err?: Error | null) => void) => void })._destroy;
    const wrapper = function destroyWithHooks(this: net.Socket, err: Error | null, cb: (err?: Error | null) => void) {
      for (const each of [...hooks.closing]) guarded(() => each(this));
      return original.call(this, err, cb);
    };
    hooks.destroyWrapper = wrapper;
    Object.defineProperty(socket, '_destroy', { configurable: true, writable: true, value: wrapper });
  }
  return () => {
    hooks.closing.delete(fn);
    if (hooks.closing.size > 0 || !hooks.destroyWrapper) return;
    // Composes with every other wrapper: ours comes off only while it is still the outermost (nobody
    // wrapped it since: another observer, another copy of the package, an APM library). Otherwise it
    // stays, calling nothing, and theirs keeps working.
    if ((socket as unknown as { _destroy?: unknown })._destroy !== hooks.destroyWrapper) return;
    hooks.destroyWrapper = null;
    if (hooks.ownDestroy) Object.defineProperty(socket, '_destroy', hooks.ownDestroy);
    else delete (socket as unknown as { _destroy?: unknown })._destroy;
  };
}

// ---------------------------------------------------------------------------------------------
// Agents (http.Agent, https.Agent and their subclasses).

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** What creates an agent's connections: Node's createConnection, or dialAgent's. */
export type CreateConnection = (this: unknown, ...args: unknown[]) => unknown;

interface AgentHooks {
  /** A replacement for the agent's own createConnection (dialAgent). */
  create: CreateConnection | null;
  /** Called once for each socket the agent creates (tunings, observe). */
  readonly created: Set<(socket: net.Socket) => void>;
  /**
   * Called when Node's keepSocketAlive() keeps a socket for the pool; one returning false refuses
   * it (the socket is not pooled). On Node 20 and 22 an https.Agent with keepAlive resets keepalive
   * there, so a tuning is applied again here.
   */
  readonly poolReturn: Set<(socket: net.Socket) => boolean>;
  /** Sockets already handed to the features, across createConnection's return value and callback. */
  seen: WeakSet<net.Socket>;
  installed: {
    createConnection?: PropertyDescriptor;
    keepSocketAlive?: PropertyDescriptor;
    /** The wrappers install() put there. */
    ours?: { createConnection: AnyFunction; keepSocketAlive: (socket: net.Socket) => boolean };
  } | null;
}

interface AgentLike {
  createConnection: AnyFunction;
  keepSocketAlive: (socket: net.Socket) => boolean;
  sockets?: Record<string, net.Socket[] | undefined>;
  freeSockets?: Record<string, net.Socket[] | undefined>;
}

function agentHooks(agent: object): AgentHooks {
  const hooks = registryOf<AgentHooks>(agent, () => ({ create: null, created: new Set(), poolReturn: new Set(), seen: new WeakSet(), installed: null }));
  if (!hooks.installed) install(agent as AgentLike, hooks);
  return hooks;
}

/** A new socket of the agent, shown once to every registered feature. */
function adoptAgentSocket(hooks: AgentHooks, socket: unknown): void {
  if (!(socket instanceof netModule().Socket) || hooks.seen.has(socket)) return;
  hooks.seen.add(socket);
  for (const fn of [...hooks.created]) guarded(() => fn(socket));
}

function install(agent: AgentLike, hooks: AgentHooks): void {
  hooks.installed = {
    createConnection: Object.getOwnPropertyDescriptor(agent, 'createConnection'),
    keepSocketAlive: Object.getOwnPropertyDescriptor(agent, 'keepSocketAlive'),
  };
  const createConnection = agent.createConnection;
  const keepSocketAlive = agent.keepSocketAlive;
  // Every argument is forwarded as given: (options, oncreate) from the Agent itself, and
  // (port, host, listener) or https's (port, host, options) from a caller. A function argument is
  // wrapped only to see a socket passed to it (the Agent's oncreate(err, socket)); it is called
  // with the same `this` and arguments.
  agent.createConnection = function createConnectionWithHooks(this: unknown, ...args: unknown[]) {
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = function callbackWithHooks(this: unknown, ...results: unknown[]) {
        adoptAgentSocket(hooks, results[1]);
        return (callback as AnyFunction).apply(this, results);
      };
    }
    const returned = (hooks.create ?? createConnection).apply(this, args);
    adoptAgentSocket(hooks, returned);
    return returned;
  };
  agent.keepSocketAlive = function keepSocketAliveWithHooks(this: unknown, socket: net.Socket): boolean {
    if (!keepSocketAlive.call(this, socket)) return false;
    for (const fn of [...hooks.poolReturn]) if (!fn(socket)) return false;
    return true;
  };
  hooks.installed.ours = { createConnection: agent.createConnection, keepSocketAlive: agent.keepSocketAlive };
}

/**
 * Removes what install() put on the agent once nothing is registered, and only while our wrappers are
 * still the outermost: one that someone wrapped since (an APM library, another copy of the package)
 * stays, passing through, so theirs is never removed with ours.
 */
function uninstallIfIdle(agent: object, hooks: AgentHooks): void {
  if (hooks.create || hooks.created.size > 0 || hooks.poolReturn.size > 0 || !hooks.installed) return;
  const target = agent as Record<string, unknown>;
  if (target.createConnection !== hooks.installed.ours?.createConnection || target.keepSocketAlive !== hooks.installed.ours?.keepSocketAlive) return;
  for (const key of ['createConnection', 'keepSocketAlive'] as const) {
    const before = hooks.installed[key];
    if (before) Object.defineProperty(target, key, before);
    else delete target[key];
  }
  hooks.installed = null;
  hooks.seen = new WeakSet();
}

/** The sockets an agent holds now: in use (`sockets`) and pooled (`freeSockets`). */
export function agentSockets(agent: object): net.Socket[] {
  const out: net.Socket[] = [];
  for (const group of [(agent as AgentLike).sockets, (agent as AgentLike).freeSockets]) {
    if (!group) continue;
    for (const list of Object.values(group)) if (list) for (const socket of list) if (socket instanceof netModule().Socket) out.push(socket);
  }
  return out;
}

/** Replaces how the agent creates its connections (dialAgent); null restores the agent's own. */
export function setAgentCreate(agent: object, create: CreateConnection | null): void {
  const hooks = agentHooks(agent);
  hooks.create = create;
  uninstallIfIdle(agent, hooks);
}

/**
 * Calls `fn` for each socket the agent creates from now on, and (with `existing`) each it has now,
 * in use or pooled. Returns the unregistration.
 */
export function onAgentSocket(agent: object, fn: (socket: net.Socket) => void, existing = true): () => void {
  const hooks = agentHooks(agent);
  hooks.created.add(fn);
  if (existing) {
    for (const socket of agentSockets(agent)) {
      hooks.seen.add(socket);
      if (!socket.destroyed) guarded(() => fn(socket));
    }
  }
  return () => {
    hooks.created.delete(fn);
    uninstallIfIdle(agent, hooks);
  };
}

/** Calls `fn` each time the agent keeps a socket for its pool; `fn` returning false refuses it. Returns the unregistration. */
export function onPoolReturn(agent: object, fn: (socket: net.Socket) => boolean): () => void {
  const hooks = agentHooks(agent);
  hooks.poolReturn.add(fn);
  return () => {
    hooks.poolReturn.delete(fn);
    uninstallIfIdle(agent, hooks);
  };
}

// ---------------------------------------------------------------------------------------------
// Connectors (undici-style: (options, callback) calling back with a connected socket).

/** How a connector calls back: `(null, socket)` or `(error, null)` (undici's `buildConnector.Callback`). */
export type ConnectorCallback<S extends net.Socket = net.Socket> = (...args: [null, S] | [Error, null]) => void;

/** An undici-style connector: `(options, callback)` calling back with a connected socket. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a connector's options are its own business
export type Connector<O = any, S extends net.Socket = net.Socket> = (options: O, callback: ConnectorCallback<S>) => unknown;

/**
 * Any two-argument connector, whatever it types its callback as (undici's rest-tuple form, or a
 * hand-written `(err, socket) => void`): tuneConnector() and dialConnector() return its own type.
 */
export type AnyConnector = (options: never, callback: never) => unknown;

interface ConnectorHooks {
  /** Called with each socket before it is handed out; one that throws fails the connection with its error. */
  readonly prepare: Set<(socket: net.Socket) => void>;
  /** Called with each socket the connector hands to its caller (observe). */
  readonly sockets: Set<(socket: net.Socket) => void>;
  /** The connector this one wraps. */
  readonly inner: Connector;
}

/**
 * A connector that calls `inner` and, before handing a socket to its caller, runs the `prepare`
 * callbacks (a tuning; one that throws destroys the socket and the callback gets the error: the
 * request fails with it), then shows it to the watchers. Wrapping a connector made here wraps what
 * it wraps, so a socket is prepared once.
 */
export function wrapConnector<C extends AnyConnector>(inner: C): C {
  const base = existing<ConnectorHooks>(inner)?.inner ?? (inner as unknown as Connector);
  const hooks: ConnectorHooks = { prepare: new Set(), sockets: new Set(), inner: base };
  const connector: Connector = function connectorWithHooks(this: unknown, options, callback) {
    return base.call(this, options, (...args: [null, net.Socket] | [Error, null]) => {
      const [err, socket] = args;
      if (err || !socket) {
        callback(err ?? new Error('the connector called back with neither an error nor a socket'), null);
        return;
      }
      try {
        for (const fn of [...hooks.prepare]) fn(socket);
      } catch (error) {
        socket.destroy();
        callback(error as Error, null);
        return;
      }
      for (const fn of [...hooks.sockets]) guarded(() => fn(socket));
      callback(null, socket);
    });
  };
  Object.defineProperty(connector, HOOKS, { value: hooks, enumerable: false });
  return connector as unknown as C;
}

/** Adds a prepare callback to a connector made by wrapConnector(). Returns the unregistration. */
export function onConnectorPrepare(connector: object, fn: (socket: net.Socket) => void): () => void {
  const hooks = existing<ConnectorHooks>(connector)!;
  hooks.prepare.add(fn);
  return () => hooks.prepare.delete(fn);
}

/** Whether `connector` was made by tuneConnector or dialConnector (it can be observed). */
export function isHookedConnector(connector: unknown): boolean {
  return typeof connector === 'function' && existing<ConnectorHooks>(connector) !== undefined;
}

/** Calls `fn` with each socket `connector` hands out from now on. Returns the unregistration. */
export function watchConnectorSockets(connector: object, fn: (socket: net.Socket) => void): () => void {
  const hooks = existing<ConnectorHooks>(connector)!;
  hooks.sockets.add(fn);
  return () => hooks.sockets.delete(fn);
}

// ---------------------------------------------------------------------------------------------
// Servers (net.Server and everything built on it).

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
  if (!(server instanceof netModule().Server)) return;
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

interface ServerHooks {
  /** Called for each accepted socket, before the server's own 'connection' handlers (prepended). */
  readonly connection: Set<(socket: net.Socket) => void>;
  /** Called for each http2 session, before the server's own 'session' handlers. */
  readonly session: Set<(session: { socket: net.Socket; destroy(err?: Error): void }) => void>;
  onConnection: ((socket: net.Socket) => void) | null;
  onSession: ((session: { socket: net.Socket; destroy(err?: Error): void }) => void) | null;
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
  return registryOf<ServerHooks>(server, () => ({ connection: new Set(), session: new Set(), onConnection: null, onSession: null, owner: null }));
}

/**
 * Calls `fn` with each socket `server` accepts, before the server's own 'connection' handlers (a
 * prepended listener: after Node's own per-connection keepAlive and noDelay, before a
 * `createServer(handler)` handler, so that handler already sees what `fn` did). Returns the
 * unregistration.
 */
export function onServerConnection(server: net.Server, fn: (socket: net.Socket) => void): () => void {
  const hooks = serverHooks(server);
  hooks.connection.add(fn);
  if (!hooks.onConnection) {
    hooks.onConnection = (socket) => {
      for (const each of [...hooks.connection]) guarded(() => each(socket));
    };
    server.prependListener('connection', hooks.onConnection);
  }
  return () => {
    hooks.connection.delete(fn);
    if (hooks.connection.size === 0 && hooks.onConnection) {
      server.removeListener('connection', hooks.onConnection);
      hooks.onConnection = null;
    }
  };
}

/** Calls `fn` with each http2 session of `server`, before the server's own 'session' handlers. Returns the unregistration. */
export function onServerSession(server: net.Server, fn: (session: { socket: net.Socket; destroy(err?: Error): void }) => void): () => void {
  const hooks = serverHooks(server);
  hooks.session.add(fn);
  if (!hooks.onSession) {
    hooks.onSession = (session) => {
      for (const each of [...hooks.session]) guarded(() => each(session));
    };
    server.prependListener('session', hooks.onSession);
  }
  return () => {
    hooks.session.delete(fn);
    if (hooks.session.size === 0 && hooks.onSession) {
      server.removeListener('session', hooks.onSession);
      hooks.onSession = null;
    }
  };
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
