/**
 * The attachment layer's socket hooks: when a socket connects (one pending callback per slot), and
 * inside its `_destroy`, while its fd is still open, on every close path (lib/node/hooks.ts).
 */
import type net = require('node:net');
import { guarded, registryOf } from './registry';

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
