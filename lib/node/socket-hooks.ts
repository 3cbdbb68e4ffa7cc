/**
 * The attachment layer's socket hooks: when a socket connects (one pending callback per slot), and
 * inside its `_destroy`, while its fd is still open, on every close path (lib/node/hooks.ts).
 */
import type net = require('node:net');
import { existing, guarded, registryOf } from './registry';

/** Whether a socket has connected and still owns its fd. */
export function isConnected(socket: net.Socket): boolean {
  return !socket.connecting && !socket.destroyed && !socket.pending;
}

// A socket's hooks are made for every socket a server accepts while observed: their fields are
// allocated on first use (an empty Map or Set costs more than the rest of the record), and the
// closing callbacks are a small array (one per observer, rarely more).
interface SocketHooks {
  /** One pending callback per slot (a feature's key): the last registration in a slot wins, whole. */
  connectSlots: Map<symbol, () => void> | null;
  /** The 'connect' listener, while one is installed. */
  onConnect: (() => void) | null;
  /**
   * Called from the socket's `_destroy`, while its fd is still open (observe's final sample), in the
   * order registered: the first callback and its data in the record itself (a socket has one per
   * observer, rarely more), the others as pairs of callback and data, flat, in an array replaced
   * at each change by concat(), which allocates exactly its length. (This was one array, made by a
   * spread into a literal, which reserves 17 slots as push() does: 152 bytes per observed socket,
   * measured with heap snapshots; the record's two fields take 16.)
   */
  closingFn: Closing<unknown> | null;
  closingData: unknown;
  moreClosing: readonly unknown[] | null;
  /** The `_destroy` own property the socket had before ours (undefined: it used its prototype's). */
  ownDestroy: PropertyDescriptor | undefined;
  /** The `_destroy` our wrapper calls (the socket's before ours: its own, or its prototype's). */
  originalDestroy: Destroy | null;
  /** Whether our wrapper is the socket's `_destroy` (it stays while anyone wrapped it after us). */
  installed: boolean;
}

function socketHooks(socket: net.Socket): SocketHooks {
  return registryOf<SocketHooks>(socket, () => ({
    connectSlots: null,
    onConnect: null,
    closingFn: null,
    closingData: undefined,
    moreClosing: null,
    ownDestroy: undefined,
    originalDestroy: null,
    installed: false,
  }));
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
  (hooks.connectSlots ??= new Map()).set(slot, fn);
  if (hooks.onConnect) return;
  const onConnect = (): void => {
    hooks.onConnect = null;
    const due = [...hooks.connectSlots!.values()];
    hooks.connectSlots = null;
    for (const each of due) guarded(each);
  };
  hooks.onConnect = onConnect;
  socket.once('connect', onConnect);
}

type Destroy = (this: net.Socket, err: Error | null, cb: (err?: Error | null) => void) => void;
type Closing<T> = (socket: net.Socket, data: T) => void;

/**
 * The one `_destroy` wrapper every hooked socket gets (shared, not a closure per socket: a server
 * observed holds one per accepted socket): runs the socket's closing callbacks, then the `_destroy`
 * it had before.
 */
const destroyWithHooks: Destroy = function destroyWithHooks(this: net.Socket, err, cb) {
  const hooks = existing<SocketHooks>(this)!;
  // Read before any callback runs: one that unregisters (observe's final sample does) changes the
  // record, not the callbacks owed for this close.
  const first = hooks.closingFn;
  const firstData = hooks.closingData;
  const more = hooks.moreClosing;
  if (first) guarded(() => first(this, firstData));
  if (more) {
    for (let i = 0; i < more.length; i += 2) {
      const fn = more[i] as Closing<unknown>;
      const data = more[i + 1];
      guarded(() => fn(this, data));
    }
  }
  return hooks.originalDestroy!.call(this, err, cb);
};

/**
 * Registers `fn(socket, data)` to run in `socket`'s `_destroy`, before Node closes the fd, on every
 * close path (peer FIN, end(), destroy(), destroy(err), RST, timeout), until offSocketClosing() with
 * the same `fn` and `data`. A callback shared by many sockets, with each socket's `data`, costs no
 * closure per socket.
 */
export function onSocketClosing<T>(socket: net.Socket, fn: Closing<T>, data: T): void {
  const hooks = socketHooks(socket);
  if (hooks.closingFn === null) {
    hooks.closingFn = fn as Closing<unknown>;
    hooks.closingData = data;
  } else hooks.moreClosing = (hooks.moreClosing ?? []).concat([fn, data]);
  if (hooks.installed) return;
  hooks.ownDestroy = Object.getOwnPropertyDescriptor(socket, '_destroy');
  hooks.originalDestroy = (socket as unknown as { _destroy: Destroy })._destroy;
  hooks.installed = true;
  Object.defineProperty(socket, '_destroy', { configurable: true, writable: true, value: destroyWithHooks });
}

/** Removes one registration of `fn` with `data` (a no-op when there is none). */
export function offSocketClosing<T>(socket: net.Socket, fn: Closing<T>, data: T): void {
  const hooks = existing<SocketHooks>(socket);
  if (!hooks) return;
  const more = hooks.moreClosing;
  if (hooks.closingFn === fn && hooks.closingData === data) {
    // The next registration, if any, moves up: the order stays the order registered.
    hooks.closingFn = more ? (more[0] as Closing<unknown>) : null;
    hooks.closingData = more ? more[1] : undefined;
    hooks.moreClosing = more && more.length > 2 ? more.slice(2) : null;
  } else if (more) {
    for (let i = 0; i < more.length; i += 2) {
      if (more[i] === fn && more[i + 1] === data) {
        hooks.moreClosing = more.length > 2 ? more.slice(0, i).concat(more.slice(i + 2)) : null;
        break;
      }
    }
  }
  if (hooks.closingFn !== null || !hooks.installed) return;
  // Composes with every other wrapper: ours comes off only while it is still the outermost (nobody
  // wrapped it since: another observer, another copy of the package, an APM library). Otherwise it
  // stays, calling nothing but the original, and theirs keeps working.
  if ((socket as unknown as { _destroy?: unknown })._destroy !== destroyWithHooks) return;
  hooks.installed = false;
  if (hooks.ownDestroy) Object.defineProperty(socket, '_destroy', hooks.ownDestroy);
  else delete (socket as unknown as { _destroy?: unknown })._destroy;
}
