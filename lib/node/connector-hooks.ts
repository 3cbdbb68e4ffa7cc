/**
 * The attachment layer's connector hooks (undici-style: (options, callback) calling back with a
 * connected socket): a wrapper that prepares and shows each socket before handing it out.
 */
import type net = require('node:net');
import { HOOKS, existing, guarded } from './registry';

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
