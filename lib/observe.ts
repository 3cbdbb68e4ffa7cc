/**
 * observe(): what TCP is doing on every connection of a server, an agent, a connector or one socket,
 * over time. Each connection is sampled (getsockopt TCP_INFO) on a jittered interval (each wait 50 %
 * to 150 % of the interval: connections opened together are not sampled together, and the mean is
 * the interval asked, gRPC's gRFC A80's intent), and once more, finally, from its still-open fd inside the socket's `_destroy`, whichever
 * side closes and however (end, destroy, error, reset, timeout): exactly one final sample per
 * connection, so short connections are never missed. With `tuning`, each sample says which of its
 * fields the kernel no longer holds (drift).
 *
 * Samples are captured synchronously and delivered in a microtask: a callback or exporter that throws
 * is the observer's 'error' (or a process warning), never an exception inside Node's destroy path.
 */
import type net = require('node:net');
import { netClasses } from './core/builtins';
import { SocketOptionError, SocketStateError, UnsupportedOptionError, warn } from './core/errors';
import { validateTime, type Duration } from './core/units';
import { NOT_SHOWN, invalidType, invalidValue, isInstance, readOptions, readRecord, validateBoolean } from './core/validate';
import { compileTuning, type Tuning } from './tuning/tuning';
import { hasListenChannel, isHookedConnector, onAnyServerListening } from './node/hooks';
import { isUnixSocket, looksLikeAgent } from './node/kinds';
import type { Attributes } from './observe/exporters';
import { ObserverImpl, type Observer, type TcpSample } from './observe/observer';

export type { Observer, TcpSample } from './observe/observer';

export interface ObserveOptions {
  /** Milliseconds between a connection's samples on average, or a string with its unit ('5m'); default 300000. Each wait is 50 %-150 % of it. */
  interval?: Duration;
  /** Called with each sample, in a microtask. */
  onSample?: (sample: TcpSample) => void;
  /** The tuning the caller intends: every sample then carries `drift`, and the drift metrics are exported. */
  tuning?: Tuning;
  /** An @opentelemetry/api Meter: the instruments are made on it (once per meter, shared by every observer on it). */
  meter?: unknown;
  /** A prom-client Registry: the metrics are registered on it (once per registry, shared; removed with the last observer). */
  registry?: unknown;
  /** Added to every metric point, beside `socket_knobs.role` (`server` or `client`). Low-cardinality values. */
  attributes?: Record<string, string | number | boolean>;
  /** Add `network.peer.address` and `network.peer.port` to every connection's points (high cardinality: off by default). */
  peerAttributes?: boolean;
}

/** observeServers()'s options: observe()'s, and which servers. */
export interface ObserveServersOptions extends ObserveOptions {
  /** Which servers to observe (default: all). Called with each server as it starts listening. */
  filter?: (server: net.Server) => boolean;
}

const DEFAULT_INTERVAL = 300000;
const INTERVAL_FIELD = { unit: 'milliseconds' as const, min: 1, max: 2147483647 };

const OBSERVE_FIELDS = ['interval', 'onSample', 'tuning', 'meter', 'registry', 'attributes', 'peerAttributes'] as const;

/** Validates observe()'s options (all of them, before anything is registered) and makes the observer. */
function makeObserver(given: Partial<Record<(typeof OBSERVE_FIELDS)[number], unknown>>): ObserverImpl {
  const interval = given.interval === undefined ? DEFAULT_INTERVAL : validateTime(given.interval, 'options.interval', INTERVAL_FIELD);
  if (given.onSample !== undefined && typeof given.onSample !== 'function') throw invalidType('options.onSample', 'of type function', given.onSample);
  const plan = given.tuning === undefined ? undefined : compileTuning(given.tuning, 'options.tuning');
  const attributes = readRecord(given.attributes, 'options.attributes');
  for (const [key, value] of Object.entries(attributes)) {
    if (!['string', 'number', 'boolean'].includes(typeof value)) throw invalidType(`options.attributes.${key}`, 'of type string, number or boolean', value);
  }
  const peerAttributes = given.peerAttributes === undefined ? false : validateBoolean(given.peerAttributes, 'options.peerAttributes');
  return new ObserverImpl(interval, given.onSample as ObserveOptions['onSample'], plan, attributes as Attributes, peerAttributes, given.meter, given.registry);
}

/**
 * Observes every connection of `target`: a `net.Server` (the sockets it accepts from now on: that
 * server only; a framework listening on two servers, as Fastify does on `localhost`, needs
 * observeServers()), an `http.Agent`/`https.Agent` (the sockets it has, pooled ones included, and each
 * it creates), a connector made by tuneConnector() (or dialConnector()), or one `net.Socket`. Returns
 * an Observer: `stop()` ends it and leaves nothing registered.
 */
export function observe(target: net.Server | net.Socket | object, options?: ObserveOptions): Observer {
  const given = readOptions(options, 'options', OBSERVE_FIELDS);
  const { Server, Socket } = netClasses();
  // The target is checked before the observer registers anything on an exporter.
  let watch: (observer: ObserverImpl) => void;
  if (isInstance(target, Server, 'target')) watch = (o) => o.watchServer(target as net.Server);
  else if (isInstance(target, Socket, 'target')) {
    const socket = target as net.Socket;
    if (socket.destroyed) throw new SocketStateError('ERR_SOCKET_CLOSED', 'The socket is destroyed: there is no connection left to observe');
    if (isUnixSocket(socket)) throw invalidValue('target', 'is a Unix-domain socket: observe() reads TCP_INFO, which only TCP connections have', NOT_SHOWN);
    watch = (o) => o.add(socket, (socket as unknown as { server?: unknown }).server ? 'server' : 'client');
  } else if (typeof target === 'function' && isHookedConnector(target)) watch = (o) => o.watchConnector(target);
  else if (target !== null && typeof target === 'object' && looksLikeAgent(target)) watch = (o) => o.watchAgent(target);
  else if (typeof target === 'function') {
    throw invalidValue(
      'target',
      'is a connector socket-knobs did not make: wrap it with tuneConnector() (or make it with dialConnector()) to observe it',
      target,
    );
  } else {
    throw invalidType('target', 'an instance of net.Server, net.Socket, http.Agent or https.Agent, or a connector made by tuneConnector()', target);
  }
  const observer = makeObserver(given);
  watch(observer);
  return observer;
}

/**
 * Observes every server that starts listening in this process from now on (through Node's
 * `net.server.listen` diagnostics channel, the hook tuneServers() uses), until `stop()`: the servers
 * an application cannot reach (Fastify's second `localhost` server, ws's `WebSocketServer({ port })`,
 * gRPC's `bindAsync`). `options.filter(server)` scopes it; a closed server is let go (its connections
 * still open are observed until they close).
 */
export function observeServers(options?: ObserveServersOptions): Observer {
  const given = readOptions(options, 'options', [...OBSERVE_FIELDS, 'filter'] as const);
  if (given.filter !== undefined && typeof given.filter !== 'function') throw invalidType('options.filter', 'of type function', given.filter);
  if (!hasListenChannel()) {
    throw new UnsupportedOptionError(
      'observeServers',
      `Node ${process.version}`,
      "Node publishes no 'net.server.listen' diagnostics channel before 20.16 and 22.3: use observe(server) on each server",
    );
  }
  const filter = given.filter as ObserveServersOptions['filter'];
  const observer = makeObserver(given);
  const onListen = (server: net.Server): void => {
    try {
      if (filter && !filter(server)) return;
    } catch (err) {
      // A filter that throws: reported, never thrown into Node's listen path.
      const error = err instanceof SocketOptionError ? err : new Error(`observeServers: the filter threw: ${(err as Error)?.message}`);
      if (observer.listenerCount('error') > 0) observer.emit('error', error);
      else warn(error, 'SOCKET_KNOBS_OBSERVE');
      return;
    }
    if (!observer.watchServer(server)) return;
    const letGo = (): void => {
      // Node still emits the 'close' of a close() made just before a new listen(): a server that listens again stays.
      if (server.listening) return;
      server.removeListener('close', letGo);
      observer.unwatchServer(server);
    };
    server.on('close', letGo);
    observer.onStop(() => server.removeListener('close', letGo));
  };
  observer.onStop(onAnyServerListening(onListen));
  return observer;
}
