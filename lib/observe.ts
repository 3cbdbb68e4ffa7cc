/**
 * observe(): what TCP is doing on every connection of a server, an agent, a connector or one socket,
 * over time. Each connection is sampled (getsockopt TCP_INFO) on a jittered interval, as gRPC's gRFC
 * A80 does (10 % to 110 % of the interval, so that connections opened together are not sampled
 * together), and once more, finally, from its still-open fd inside the socket's `_destroy`, whichever
 * side closes and however (end, destroy, error, reset, timeout): exactly one final sample per
 * connection, so short connections are never missed. With `tuning`, each sample says which of its
 * fields the kernel no longer holds (drift).
 *
 * Samples are captured synchronously and delivered in a microtask: a callback or exporter that throws
 * is the observer's 'error' (or a process warning), never an exception inside Node's destroy path.
 */
import { EventEmitter } from 'node:events';
import type net = require('node:net');
import { net as netModule } from './core/builtins';
import { SocketStateError, warn } from './core/errors';
import { listenerFd, openHandleFd } from './node/target';
import type { TuningPath } from './core/table';
import { validateTime, type Duration } from './core/units';
import { NOT_SHOWN, invalidType, invalidValue, isInstance, readOptions, readRecord, validateBoolean } from './core/validate';
import { getTcpInfo, type TcpInfo } from './options/tcpinfo';
import { compileTuning, type Plan, type Tuning } from './tuning/tuning';
import { driftOf, getTuning } from './tuning/readback';
import { isConnected, isHookedConnector, onAgentSocket, onServerConnection, onSocketClosing, watchConnectorSockets } from './node/hooks';
import { isUnixSocket, looksLikeAgent, ownerHandle } from './node/kinds';
import { Schedule } from './observe/schedule';
import { ACCEPT_QUEUE, COUNTERS, DRIFT_COUNTER, HISTOGRAMS, ROLE_ATTRIBUTE, otelRecorder, promRecorder, type Attributes, type Recorder } from './metrics';

/** One reading of a connection. */
export interface TcpSample {
  /** The socket sampled (for the final sample: already destroyed). */
  readonly socket: net.Socket;
  /** TCP_INFO as the kernel gave it: only the fields it returned (`info.length` bytes). */
  readonly info: TcpInfo;
  /** True for the connection's last sample, read from its still-open fd as it closes. */
  readonly final: boolean;
  /** With `tuning`: the Tuning field paths whose kernel value differs from it (empty when none). */
  readonly drift?: readonly TuningPath[];
}

export interface ObserveOptions {
  /** Milliseconds between a connection's samples, or a string with its unit ('5m'); default 300000. Each wait is 10 %-110 % of it. */
  interval?: Duration;
  /** Called with each sample, in a microtask. */
  onSample?: (sample: TcpSample) => void;
  /** The tuning the caller intends: every sample then carries `drift`. */
  tuning?: Tuning;
  /** An @opentelemetry/api Meter: the network.tcp.* instruments are made on it (once per meter). */
  meter?: unknown;
  /** A prom-client Registry: the network_tcp_* metrics are registered on it (once per registry). */
  registry?: unknown;
  /** Added to every metric point, beside `socket_knobs.role` (`server` or `client`). Low-cardinality values. */
  attributes?: Record<string, string | number | boolean>;
  /** Add `network.peer.address` and `network.peer.port` to every point (high cardinality: off by default). */
  peerAttributes?: boolean;
}

/** What observe() returns. */
export interface Observer extends EventEmitter {
  /** Connections being observed now. */
  readonly connections: number;
  /** No sample is taken after it (a final one already taken is still delivered); nothing left registered on the target or its sockets. */
  stop(): void;
}

const DEFAULT_INTERVAL = 300000;
const INTERVAL_FIELD = { unit: 'milliseconds' as const, min: 1, max: 2147483647 };

/** A connection being observed. */
interface Watched {
  readonly socket: net.Socket;
  /** The libuv handle that owns the fd (a TLS socket's is the TCP handle under it): the connection's identity. */
  readonly handle: object;
  readonly fd: number;
  readonly attributes: Attributes;
  /** The cumulative counters at the previous sample, for the deltas. */
  readonly previous: (number | undefined)[];
  /** True once a sample was recorded: every counter's series starts at the first one. */
  recorded: boolean;
  next: number;
  /** Its place in the schedule's heap (-1: not in it). */
  index: number;
  done: boolean;
  unhook: () => void;
}

class ObserverImpl extends EventEmitter implements Observer {
  private stopped = false;
  /** By the handle that owns the kernel socket: never by fd number, which another file may take. */
  private readonly byHandle = new Map<object, Watched>();
  /** Sockets waiting for 'connect', each with the removal of its listeners (dropped at 'close' too). */
  private readonly pendingConnect = new Map<net.Socket, () => void>();
  private readonly schedule = new Schedule<Watched>();
  private timer: NodeJS.Timeout | null = null;
  private readonly unhooks: (() => void)[] = [];
  private readonly recorders: Recorder[] = [];
  private listener: net.Server | null = null;
  /** The attributes of the listener's gauges (and of prom-client's label set): the server role, no peer. */
  private readonly listenerAttributes: Attributes;

  constructor(
    private readonly interval: number,
    private readonly onSample: ((sample: TcpSample) => void) | undefined,
    private readonly plan: Plan | undefined,
    private readonly attributes: Attributes,
    private readonly peerAttributes: boolean,
    meter: unknown,
    registry: unknown,
  ) {
    super();
    this.listenerAttributes = {
      ...attributes,
      [ROLE_ATTRIBUTE]: 'server',
      ...(peerAttributes ? { 'network.peer.address': '', 'network.peer.port': 0 } : {}),
    };
    if (meter !== undefined) this.recorders.push(otelRecorder(meter));
    if (registry !== undefined) this.recorders.push(promRecorder(registry, this.listenerAttributes));
  }

  get connections(): number {
    return this.byHandle.size;
  }

  /** Starts watching a server's accepted sockets, and samples its listener's accept queue. */
  watchServer(server: net.Server): void {
    this.listener = server;
    this.unhooks.push(onServerConnection(server, (socket) => this.add(socket, 'server')));
    if (this.recorders.length > 0) {
      const timer = setInterval(() => this.sampleListener(), this.interval);
      timer.unref();
      this.unhooks.push(() => clearInterval(timer));
    }
  }

  /** Starts watching an agent's sockets: those it has now (pooled ones too), and each it creates. */
  watchAgent(agent: object): void {
    this.unhooks.push(onAgentSocket(agent, (socket) => this.add(socket, 'client')));
  }

  watchConnector(connector: object): void {
    this.unhooks.push(watchConnectorSockets(connector, (socket) => this.add(socket, 'client')));
  }

  /** Observes `socket` once it is connected (now, or at its 'connect'). */
  add(socket: net.Socket, role: 'server' | 'client'): void {
    if (this.stopped || socket.destroyed) return;
    if (!isConnected(socket)) {
      // Held only until it connects or closes: a socket that never connects is not kept (§2.5).
      if (this.pendingConnect.has(socket)) return;
      const onConnect = (): void => {
        drop();
        this.add(socket, role);
      };
      const drop = (): void => {
        this.pendingConnect.delete(socket);
        socket.removeListener('connect', onConnect);
        socket.removeListener('close', drop);
      };
      socket.once('connect', onConnect);
      socket.once('close', drop);
      this.pendingConnect.set(socket, drop);
      return;
    }
    // TCP_INFO is TCP's: a Unix-domain connection (a server on a path) has none to observe.
    if (isUnixSocket(socket)) return;
    const handle = ownerHandle(socket);
    const fd = openHandleFd(socket);
    // One sample series per kernel socket: a TLS socket and the TCP socket under it are one.
    if (fd < 0 || !handle || this.byHandle.has(handle)) return;
    const attributes: Attributes = {
      ...this.attributes,
      [ROLE_ATTRIBUTE]: role,
      ...(this.peerAttributes ? { 'network.peer.address': socket.remoteAddress ?? '', 'network.peer.port': socket.remotePort ?? 0 } : {}),
    };
    const watched: Watched = {
      socket,
      handle,
      fd,
      attributes,
      previous: COUNTERS.map(() => undefined),
      recorded: false,
      next: 0,
      index: -1,
      done: false,
      unhook: () => {},
    };
    watched.unhook = onSocketClosing(socket, () => this.final(watched));
    this.byHandle.set(handle, watched);
    this.reschedule(watched);
  }

  private jittered(): number {
    return this.interval * (0.1 + Math.random());
  }

  private reschedule(watched: Watched): void {
    watched.next = Date.now() + this.jittered();
    this.schedule.push(watched);
    this.arm();
  }

  /** One timer for the earliest due connection (unref'd: observing never keeps a process alive). */
  private arm(): void {
    const first = this.schedule.peek();
    if (this.stopped || !first) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), Math.max(0, first.next - Date.now()));
    this.timer.unref();
  }

  private tick(): void {
    this.timer = null;
    const now = Date.now();
    while (!this.stopped && (this.schedule.peek()?.next ?? Infinity) <= now) {
      const watched = this.schedule.pop()!;
      if (watched.done) continue;
      this.sample(watched, false);
      if (!watched.done) this.reschedule(watched);
    }
    this.arm();
  }

  /** The last sample, from inside the socket's `_destroy`: its fd is still open there. */
  private final(watched: Watched): void {
    if (watched.done || this.stopped) return;
    this.sample(watched, true);
    this.forget(watched);
  }

  private forget(watched: Watched): void {
    watched.done = true;
    watched.unhook();
    this.schedule.remove(watched);
    if (this.byHandle.get(watched.handle) === watched) this.byHandle.delete(watched.handle);
  }

  /** Reads TCP_INFO (and the tuning, for drift) now; delivers in a microtask. */
  private sample(watched: Watched, final: boolean): void {
    let info: TcpInfo;
    let drift: TuningPath[] | undefined;
    // The fd number is read only while the handle that owns it still holds it: a socket handed to a
    // child process (its handle taken away, the number closed and reused) has left this process,
    // and the file now under that number is someone else's connection (§2.6).
    if (ownerHandle(watched.socket) !== watched.handle || (watched.handle as { fd?: unknown }).fd !== watched.fd) {
      this.forget(watched);
      return;
    }
    try {
      info = getTcpInfo(watched.fd);
      if (this.plan) drift = driftOf(this.plan, getTuning(watched.fd));
    } catch (err) {
      // The fd is gone (closed under us, outside Node): the connection is over; nothing to read.
      if (!final) this.forget(watched);
      this.report(err);
      return;
    }
    const sample: TcpSample = drift === undefined ? { socket: watched.socket, info, final } : { socket: watched.socket, info, final, drift };
    queueMicrotask(() => this.deliver(watched, sample));
  }

  private deliver(watched: Watched, sample: TcpSample): void {
    // A final sample read before stop() (the socket destroyed, then stop() in the same tick) is owed:
    // exactly one final sample per connection that closed while observed. No other after stop().
    if (this.stopped && !sample.final) return;
    try {
      this.record(watched, sample);
    } catch (err) {
      this.report(err);
    }
    if (!this.onSample) return;
    try {
      this.onSample(sample);
    } catch (err) {
      this.report(err);
    }
  }

  private record(watched: Watched, sample: TcpSample): void {
    if (this.recorders.length === 0) return;
    const { info } = sample;
    const totals = COUNTERS.map((c) => c.total(info));
    for (const recorder of this.recorders) {
      for (const h of HISTOGRAMS) {
        const value = h.value(info);
        if (value !== undefined) recorder.histogram(h.name, value, watched.attributes);
      }
      COUNTERS.forEach((c, i) => {
        const total = totals[i];
        if (total === undefined) return;
        const delta = total - (watched.previous[i] ?? 0);
        // From the first sample on, every counter has a series (add(0) where nothing happened yet),
        // so a ratio over a healthy service reads 0, not "no data".
        if (delta > 0 || !watched.recorded) recorder.counter(c.name, Math.max(0, delta), watched.attributes);
      });
      const drifted = sample.drift !== undefined && sample.drift.length > 0;
      if (drifted || !watched.recorded) recorder.counter(DRIFT_COUNTER.name, drifted ? 1 : 0, watched.attributes);
    }
    totals.forEach((total, i) => {
      if (total !== undefined) watched.previous[i] = total;
    });
    watched.recorded = true;
  }

  /** A listener's accept queue (tcpi_unacked) and its limit (tcpi_sacked), as gauges. */
  private sampleListener(): void {
    if (!this.listener || this.recorders.length === 0) return;
    try {
      // Nothing to read while it is not listening, or in a cluster worker listening through the primary.
      const fd = listenerFd(this.listener);
      if (fd === 'primary' || fd < 0) return;
      const info = getTcpInfo(fd);
      const attributes = this.listenerAttributes;
      for (const recorder of this.recorders) {
        if (info.unacked !== undefined) recorder.gauge(ACCEPT_QUEUE.name, info.unacked, attributes);
        if (info.sacked !== undefined) recorder.gauge(`${ACCEPT_QUEUE.name}.limit`, info.sacked, attributes);
      }
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else warn(err, 'SOCKET_KNOBS_OBSERVE');
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const undo of this.unhooks.splice(0)) undo();
    for (const drop of [...this.pendingConnect.values()]) drop();
    for (const watched of this.byHandle.values()) {
      watched.done = true;
      watched.unhook();
    }
    this.byHandle.clear();
    this.schedule.clear();
  }
}

/**
 * Observes every connection of `target`: a `net.Server` (the sockets it accepts from now on), an
 * `http.Agent`/`https.Agent` (the sockets it has, pooled ones included, and each it creates), a
 * connector made by tuneConnector() (or dialConnector()), or one `net.Socket`. Returns an Observer:
 * `stop()` ends it and leaves nothing registered.
 */
export function observe(target: net.Server | net.Socket | object, options?: ObserveOptions): Observer {
  const given = readOptions(options, 'options', ['interval', 'onSample', 'tuning', 'meter', 'registry', 'attributes', 'peerAttributes'] as const);
  const interval = given.interval === undefined ? DEFAULT_INTERVAL : validateTime(given.interval, 'options.interval', INTERVAL_FIELD);
  if (given.onSample !== undefined && typeof given.onSample !== 'function') throw invalidType('options.onSample', 'of type function', given.onSample);
  const plan = given.tuning === undefined ? undefined : compileTuning(given.tuning, 'options.tuning');
  const attributes = readRecord(given.attributes, 'options.attributes');
  for (const [key, value] of Object.entries(attributes)) {
    if (!['string', 'number', 'boolean'].includes(typeof value)) throw invalidType(`options.attributes.${key}`, 'of type string, number or boolean', value);
  }
  const peerAttributes = given.peerAttributes === undefined ? false : validateBoolean(given.peerAttributes, 'options.peerAttributes');
  const observer = new ObserverImpl(
    interval,
    given.onSample as ObserveOptions['onSample'],
    plan,
    attributes as Attributes,
    peerAttributes,
    given.meter,
    given.registry,
  );
  const { Server, Socket } = netModule();
  if (isInstance(target, Server, 'target')) observer.watchServer(target as net.Server);
  else if (isInstance(target, Socket, 'target')) {
    const socket = target as net.Socket;
    if (socket.destroyed) throw new SocketStateError('ERR_SOCKET_CLOSED', 'The socket is destroyed: there is no connection left to observe');
    if (isUnixSocket(socket)) throw invalidValue('target', 'is a Unix-domain socket: observe() reads TCP_INFO, which only TCP connections have', NOT_SHOWN);
    observer.add(socket, (socket as unknown as { server?: unknown }).server ? 'server' : 'client');
  } else if (typeof target === 'function' && isHookedConnector(target)) observer.watchConnector(target);
  else if (target !== null && typeof target === 'object' && looksLikeAgent(target)) observer.watchAgent(target);
  else if (typeof target === 'function') {
    throw invalidValue(
      'target',
      'is a connector socket-knobs did not make: wrap it with tuneConnector() (or make it with dialConnector()) to observe it',
      target,
    );
  } else {
    throw invalidType('target', 'an instance of net.Server, net.Socket, http.Agent or https.Agent, or a connector made by tuneConnector()', target);
  }
  return observer;
}
