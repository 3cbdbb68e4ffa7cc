/**
 * The observer behind observe() and observeServers(): a schedule of connections (one timer, grouped
 * wake-ups, waits centred on the interval), exactly one final sample per connection from inside its
 * `_destroy`, and the gauges it reports to its exporters at each collection.
 */
import { EventEmitter } from 'node:events';
import type net = require('node:net');
import { warn } from '../core/errors';
import type { TuningPath } from '../core/table';
import { listenerFd, openHandleFd } from '../node/target';
import { getTcpInfo, type TcpInfo } from '../options/tcpinfo';
import type { Plan } from '../tuning/tuning';
import { driftOf, getTuning } from '../tuning/readback';
import { isConnected, offSocketClosing, onAgentSocket, onServerConnection, onSocketClosing, watchConnectorSockets } from '../node/hooks';
import { isUnixSocket, ownerHandle } from '../node/kinds';
import { Clock, Schedule } from './schedule';
import { FIELD_ATTRIBUTE, ROLE_ATTRIBUTE, instrumentsOf } from './instruments';
import { PreviousTotals } from './series';
import { COUNTERS, HISTOGRAMS, otelExporter, promExporter, type Attributes, type EmitGauge, type Exporter, type SeriesSink } from './exporters';

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

/** What observe() returns. */
export interface Observer extends EventEmitter {
  /** Connections being observed now. */
  readonly connections: number;
  /** No sample is taken after it (a final one already taken is still delivered); nothing left registered on the target, its sockets or the exporters. */
  stop(): void;
}

// Shared by every connection that has none of its own: an empty array per connection is 32 bytes
// of the heap each (measured with heap snapshots, bench/observe-heap.js).
const NO_DRIFT: readonly TuningPath[] = Object.freeze([]);
const NO_SINKS: readonly SeriesSink[] = Object.freeze([]);

const DRIFT_INDEX = COUNTERS.findIndex((c) => c.name === 'network.tcp.tuning_drift');
const [ACCEPT_QUEUE, ACCEPT_QUEUE_LIMIT] = instrumentsOf('listener');
const [DRIFTED_CONNECTIONS] = instrumentsOf('tuning');

/** A connection being observed. */
interface Watched {
  readonly socket: net.Socket;
  /** The libuv handle that owns the fd (a TLS socket's is the TCP handle under it): the connection's identity. */
  readonly handle: object;
  readonly fd: number;
  /** Where its samples go: one sink per exporter. */
  readonly sinks: readonly SeriesSink[];
  /** Its row in the observer's table of previous counter totals (one Float64Array for every connection). */
  readonly slot: number;
  /** With `tuning`: the fields that differed at its latest sample (for the drift gauge). */
  drift: readonly TuningPath[];
  /** Its due time, in whole milliseconds of the observer's Clock (./schedule.ts). */
  next: number;
  /** Its bucket in the schedule, and its place in that bucket (-1: not in the schedule). */
  bucket: number;
  index: number;
  done: boolean;
}

export class ObserverImpl extends EventEmitter implements Observer {
  private stopped = false;
  /** By the handle that owns the kernel socket: never by fd number, which another file may take. */
  private readonly byHandle = new Map<object, Watched>();
  /** Sockets waiting for 'connect', each with the removal of its listeners (dropped at 'close' too). */
  private readonly pendingConnect = new Map<net.Socket, () => void>();
  private readonly schedule: Schedule<Watched>;
  private timer: NodeJS.Timeout | null = null;
  /** When the timer fires (Infinity: no timer). */
  private timerAt = Infinity;
  /** Its time: due times, waits and the wake-up window, in whole milliseconds. */
  private readonly clock: Clock;
  /** Each connection's counter totals at its previous sample, for the deltas. */
  private readonly previous = new PreviousTotals();
  /** The result object every sample without `onSample` is decoded into. */
  private readonly reused = {} as TcpInfo;
  private readonly unhooks: (() => void)[] = [];
  /** Every observed socket's closing hook: one function, each socket's Watched as its data (no closure per connection). */
  private readonly onClosing = (_socket: net.Socket, watched: Watched): void => this.final(watched);
  private readonly exporters: Exporter[] = [];
  /** The servers observed, each with the removal of its connection hook. */
  private readonly servers = new Map<net.Server, () => void>();
  /** The sinks of each role's attribute set (without peer attributes, every connection of a role shares one). */
  private readonly roleSinks = new Map<'server' | 'client', { attributes: Attributes; sinks: SeriesSink[] }>();

  constructor(
    interval: number,
    private readonly onSample: ((sample: TcpSample) => void) | undefined,
    private readonly plan: Plan | undefined,
    private readonly attributes: Attributes,
    private readonly peerAttributes: boolean,
    meter: unknown,
    registry: unknown,
  ) {
    super();
    this.clock = new Clock(interval);
    this.schedule = new Schedule<Watched>(this.clock.window);
    // Made whole or not at all: an exporter that refuses leaves nothing of this observer on the other.
    try {
      if (meter !== undefined) this.exporters.push(otelExporter(meter));
      if (registry !== undefined) this.exporters.push(promExporter(registry));
      for (const exporter of this.exporters) exporter.attach(this, (emit) => this.gauges(emit));
    } catch (err) {
      for (const exporter of this.exporters) exporter.detach(this);
      throw err;
    }
  }

  get connections(): number {
    return this.byHandle.size;
  }

  /** Starts watching a server's accepted sockets (its listener's accept queue is read at each collection). */
  watchServer(server: net.Server): boolean {
    if (this.stopped || this.servers.has(server)) return false;
    this.servers.set(
      server,
      onServerConnection(server, (socket) => this.add(socket, 'server')),
    );
    return true;
  }

  /** Stops watching a server (closed): its accepted sockets already observed stay until they close. */
  unwatchServer(server: net.Server): void {
    const unhook = this.servers.get(server);
    if (!unhook) return;
    this.servers.delete(server);
    unhook();
  }

  /** Starts watching an agent's sockets: those it has now (pooled ones too), and each it creates. */
  watchAgent(agent: object): void {
    this.unhooks.push(onAgentSocket(agent, (socket) => this.add(socket, 'client')));
  }

  watchConnector(connector: object): void {
    this.unhooks.push(watchConnectorSockets(connector, (socket) => this.add(socket, 'client')));
  }

  /** Adds a hook's removal, run at stop(). */
  onStop(undo: () => void): void {
    if (this.stopped) undo();
    else this.unhooks.push(undo);
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
    const watched: Watched = {
      socket,
      handle,
      fd,
      sinks: this.sinksFor(socket, role),
      slot: this.previous.take(),
      drift: NO_DRIFT,
      next: 0,
      bucket: 0,
      index: -1,
      done: false,
    };
    onSocketClosing(socket, this.onClosing, watched);
    this.byHandle.set(handle, watched);
    watched.next = this.clock.now() + this.clock.wait();
    this.schedule.push(watched);
    // Re-armed only when this connection is due before the timer's wake-up can take it.
    if (watched.next < this.timerAt - this.clock.window) this.arm();
  }

  private sinksFor(socket: net.Socket, role: 'server' | 'client'): readonly SeriesSink[] {
    if (this.exporters.length === 0) return NO_SINKS;
    if (this.peerAttributes) {
      const attributes = {
        ...this.attributes,
        [ROLE_ATTRIBUTE]: role,
        'network.peer.address': socket.remoteAddress ?? '',
        'network.peer.port': socket.remotePort ?? 0,
      };
      return this.exporters.map((e) => e.series(this, attributes));
    }
    let shared = this.roleSinks.get(role);
    if (!shared) {
      const attributes = { ...this.attributes, [ROLE_ATTRIBUTE]: role };
      shared = { attributes, sinks: this.exporters.map((e) => e.series(this, attributes)) };
      this.roleSinks.set(role, shared);
    }
    return shared.sinks;
  }

  /** One timer for the earliest due connection (unref'd: observing never keeps a process alive). */
  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    const first = this.schedule.earliest();
    if (this.stopped || first === Infinity) return;
    const now = this.clock.now();
    this.timerAt = Math.max(now, first);
    this.timer = setTimeout(() => this.tick(), this.timerAt - now);
    this.timer.unref();
  }

  /** One wake-up: every connection due within the window is sampled, then the timer is armed once. */
  private tick(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = this.clock.now();
    const until = now + this.clock.window;
    this.schedule.takeDue(until, (watched) => {
      if (this.stopped || watched.done) return;
      this.sample(watched, false);
      if (watched.done) return;
      // From its due time, not from now: the mean interval is the one asked, however the wake-ups fall
      // (a timer late by more than half an interval, the process busy, restarts from now instead of
      // catching up), and never again in this wake-up.
      watched.next = Math.max(Math.max(watched.next, now - this.clock.shortestWait) + this.clock.wait(), until + 1);
      this.schedule.push(watched);
    });
    this.arm();
  }

  /** The last sample, from inside the socket's `_destroy`: its fd is still open there. */
  private final(watched: Watched): void {
    if (watched.done || this.stopped) return;
    this.sample(watched, true);
    this.forget(watched);
  }

  private forget(watched: Watched): void {
    if (watched.done) return;
    watched.done = true;
    this.previous.free(watched.slot);
    offSocketClosing(watched.socket, this.onClosing, watched);
    this.schedule.remove(watched);
    if (this.byHandle.get(watched.handle) === watched) this.byHandle.delete(watched.handle);
  }

  /**
   * Reads TCP_INFO (and the tuning, for drift) now and records it into the exporters. With
   * `onSample`, a sample object is made and delivered in a microtask; without one, TCP_INFO is decoded
   * into a result object reused for every sample: nothing is allocated per sample.
   */
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
      info = getTcpInfo(watched.fd, this.onSample ? undefined : this.reused);
      if (this.plan) drift = driftOf(this.plan, getTuning(watched.fd));
    } catch (err) {
      // The fd is gone (closed under us, outside Node): the connection is over; nothing to read.
      if (!final) this.forget(watched);
      this.report(err);
      return;
    }
    if (drift !== undefined) watched.drift = drift.length === 0 ? NO_DRIFT : drift;
    // Recorded now, while the connection's row of previous totals is its own (a final sample's row is
    // freed right after); an exporter's error is reported after Node's destroy path, never inside it.
    try {
      this.record(watched, info, drift);
    } catch (err) {
      queueMicrotask(() => this.report(err));
    }
    if (!this.onSample) return;
    const sample: TcpSample = drift === undefined ? { socket: watched.socket, info, final } : { socket: watched.socket, info, final, drift };
    queueMicrotask(() => this.deliver(sample));
  }

  private deliver(sample: TcpSample): void {
    // A final sample read before stop() (the socket destroyed, then stop() in the same tick) is owed:
    // exactly one final sample per connection that closed while observed. No other after stop().
    if (this.stopped && !sample.final) return;
    if (!this.onSample) return;
    try {
      this.onSample(sample);
    } catch (err) {
      this.report(err);
    }
  }

  /**
   * Into each exporter's sink: histogram values, counter deltas. From the first sample on, every
   * counter the kernel gives has a series (0 where nothing happened yet), so a ratio over a healthy
   * service reads 0, not "no data"; one the kernel does not give has none.
   */
  private record(watched: Watched, info: TcpInfo, drift: readonly TuningPath[] | undefined): void {
    const { sinks } = watched;
    if (sinks.length === 0) return;
    for (let h = 0; h < HISTOGRAMS.length; h++) {
      const value = HISTOGRAMS[h]!.read!(info);
      if (value !== undefined) for (const sink of sinks) sink.histogram(h, value);
    }
    for (let c = 0; c < COUNTERS.length; c++) {
      let delta: number;
      if (c === DRIFT_INDEX) {
        if (drift === undefined) continue;
        delta = drift.length > 0 ? 1 : 0;
      } else {
        const total = COUNTERS[c]!.read!(info);
        if (total === undefined) continue;
        delta = this.previous.delta(watched.slot, c, total);
      }
      for (const sink of sinks) sink.counter(c, delta);
    }
  }

  /** The gauges, read at each collection: listeners' accept queues, and drifted connections per tuned field. */
  private gauges(emit: EmitGauge): void {
    if (this.stopped) return;
    const serverAttributes = { ...this.attributes, [ROLE_ATTRIBUTE]: 'server' };
    for (const server of this.servers.keys()) {
      try {
        // Nothing to read while it is not listening, or in a cluster worker listening through the primary.
        const fd = listenerFd(server);
        if (fd === 'primary' || fd < 0) continue;
        const info = getTcpInfo(fd);
        const address = server.address();
        const attributes: Attributes =
          address !== null && typeof address === 'object'
            ? { ...serverAttributes, 'server.address': address.address, 'server.port': address.port }
            : serverAttributes;
        if (info.unacked !== undefined) emit(ACCEPT_QUEUE!, info.unacked, attributes);
        if (info.sacked !== undefined) emit(ACCEPT_QUEUE_LIMIT!, info.sacked, attributes);
      } catch (err) {
        this.report(err);
      }
    }
    if (this.plan) {
      const counts = new Map<TuningPath, number>(this.plan.fields.map((f) => [f.path, 0]));
      for (const watched of this.byHandle.values()) for (const path of watched.drift) counts.set(path, (counts.get(path) ?? 0) + 1);
      for (const [path, count] of counts) emit(DRIFTED_CONNECTIONS!, count, { ...this.attributes, [FIELD_ATTRIBUTE]: path });
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
    this.timerAt = Infinity;
    for (const undo of this.unhooks.splice(0)) undo();
    for (const server of [...this.servers.keys()]) this.unwatchServer(server);
    for (const drop of [...this.pendingConnect.values()]) drop();
    for (const watched of this.byHandle.values()) {
      watched.done = true;
      offSocketClosing(watched.socket, this.onClosing, watched);
    }
    this.byHandle.clear();
    this.schedule.clear();
    for (const exporter of this.exporters) exporter.detach(this);
  }
}
