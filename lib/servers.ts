/**
 * Servers: a tuning that holds on every socket a server accepts, in every arrangement a server
 * really runs in, or an error that says why.
 *
 * Where the kernel's inheritance holds, the listener is tuned once and accepted sockets inherit it:
 * no syscall per connection. Where it cannot hold, those fields are set on each accepted socket:
 * - a cluster worker under round-robin scheduling listens through a handle of the primary's that has
 *   no fd: every field, per connection;
 * - a field the option table marks as not inherited (SO_PRIORITY);
 * - a field Node sets itself on each accepted socket or session (a server's keepAlive and noDelay
 *   options; http2's TCP_NODELAY at session start): set after Node's, in a prepended 'connection'
 *   (or 'session') listener, so the application's own handlers already see the tuning.
 */
import { EventEmitter } from 'node:events';
import type net = require('node:net');
import { SocketOptionError, UnsupportedOptionError, warn } from './core/errors';
import { invalidType, readOptions } from './core/validate';
import { compileTuning, type Plan, type Tuning } from './tuning/tuning';
import { listenerConflicts, notApplicableError } from './tuning/listener';
import { hasListenChannel, onAnyServerListening } from './node/hooks';
import { assertServer } from './node/kinds';
import { ServerTunerImpl, type ServerTuner } from './servers/tuner';

export type { ServerTuner, ServerTuningMode } from './servers/tuner';

/**
 * Tunes every socket `server` accepts: the listener once where the kernel's inheritance holds, each
 * accepted socket where it cannot (module comment). Callable before or after listen(): it waits for
 * 'listening' and applies again after a re-listen. A second call on the same server replaces the
 * first. Bad input is a typed error before any syscall.
 */
export function tuneServer(server: net.Server, tuning: Tuning): ServerTuner {
  return tuneServerPlanned(server, compileTuning(tuning));
}

/** tuneServer() with a tuning compiled already (listen({ tuning }) passes its plan, not a copy to validate again). */
export function tuneServerPlanned(server: net.Server, plan: Plan): ServerTuner {
  assertServer(server);
  // Listening already: a field that cannot apply to its family is refused here, before anything is set.
  const conflicts = server.listening ? listenerConflicts(server, plan) : undefined;
  const notApplicable = conflicts?.find((c) => !c.applies);
  if (notApplicable) throw notApplicableError(notApplicable);
  const tuner = new ServerTunerImpl(server, plan, true, conflicts);
  tuner.start();
  return tuner;
}

// ---------------------------------------------------------------------------------------------
// Every server of the process.

/**
 * What tuneServers() returns: `stop()` ends it: no further server, nor socket of the servers it
 * tuned, is tuned (what was set on their listeners stays); `'error'` as tuneServer's; `'tuned'`
 * `(server, mode)` once each server's tuning holds, its ServerTuningMode listing the fields left
 * out for that server's address family (without a 'tuned' listener, those are a process warning).
 * A server with its own tuneServer() keeps that one: the explicit tuning wins, in either order.
 */
export interface ServersTuner extends EventEmitter {
  readonly tuning: Readonly<Tuning>;
  stop(): void;
}

export interface TuneServersOptions {
  /** Which servers to tune (default: all). Called with each server as it starts listening. */
  filter?: (server: net.Server) => boolean;
}

/**
 * Tunes every server that starts listening in this process from now on (through Node's
 * `net.server.listen` diagnostics channel), with tuneServer(), until `stop()`: the servers an
 * application cannot reach (ws's `WebSocketServer({ port })`, gRPC's `bindAsync`, Fastify's second
 * `localhost` server). `options.filter(server)` scopes it. A closed server is let go.
 */
export function tuneServers(tuning: Tuning, options?: TuneServersOptions): ServersTuner {
  const plan = compileTuning(tuning);
  const given = readOptions(options, 'options', ['filter'] as const);
  if (given.filter !== undefined && typeof given.filter !== 'function') throw invalidType('options.filter', 'of type function', given.filter);
  const filter = given.filter as TuneServersOptions['filter'];
  if (!hasListenChannel()) {
    throw new UnsupportedOptionError(
      'tuneServers',
      `Node ${process.version}`,
      "Node publishes no 'net.server.listen' diagnostics channel before 20.16 and 22.3: use tuneServer(server, tuning) on each server",
    );
  }
  const emitter = new EventEmitter() as ServersTuner & EventEmitter;
  // Only servers that are open: each is let go at its 'close' (§2.5: nothing a user closed is kept).
  const tuners = new Map<net.Server, ServerTunerImpl>();
  const onListen = (server: net.Server): void => {
    if (tuners.has(server)) return;
    try {
      if (filter && !filter(server)) return;
      const tuner = new ServerTunerImpl(server, plan, false);
      if (!tuner.start()) return; // an explicit tuneServer() holds this server
      tuners.set(server, tuner);
      const letGo = (): void => {
        // Node still emits the 'close' of a close() made just before a new listen(): a server that
        // listens again is not let go.
        if (server.listening) return;
        server.removeListener('close', letGo);
        if (tuners.get(server) === tuner) tuners.delete(server);
        tuner.stop();
      };
      server.on('close', letGo);
      tuner.on('error', (err) => (emitter.listenerCount('error') > 0 ? emitter.emit('error', err) : warn(err, 'SOCKET_KNOBS_SERVER_TUNING')));
      // Each server's report: 'tuned' with its mode; fields left out for its family are a warning
      // when nobody listens for the report, never a silent loss.
      tuner.ready.then(
        (mode) => {
          const heard = emitter.listenerCount('tuned') > 0;
          if (heard) emitter.emit('tuned', server, mode);
          else if (mode.skipped.length > 0)
            warn(`tuneServers: left out ${mode.skipped.join(', ')} for a server: ${mode.reasons.join('; ')}`, 'SOCKET_KNOBS_SERVER_TUNING');
        },
        () => {},
      );
    } catch (err) {
      // A filter that throws: reported, never thrown into Node's listen path.
      const error = err instanceof SocketOptionError ? err : new Error(`tuneServers: the filter threw: ${(err as Error)?.message}`);
      if (emitter.listenerCount('error') > 0) emitter.emit('error', error);
      else warn(error, 'SOCKET_KNOBS_SERVER_TUNING');
    }
  };
  const unsubscribe = onAnyServerListening(onListen);
  let stopped = false;
  Object.defineProperty(emitter, 'tuning', { value: plan.tuning, enumerable: true });
  emitter.stop = () => {
    if (stopped) return;
    stopped = true;
    unsubscribe();
    for (const tuner of tuners.values()) tuner.stop();
    tuners.clear();
  };
  return emitter;
}
