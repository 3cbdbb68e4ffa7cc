/**
 * One server's tuner (tuneServer, and each server of tuneServers): where each field holds decided
 * per platform and family, the listener tuned inside listen() and its accept queue swept, the rest
 * set per connection; ready settles, a replaced tuning is undone on the listener.
 */
import { EventEmitter } from 'node:events';
import type net = require('node:net');
import { SocketStateError, warn } from '../core/errors';
import { syscallError } from '../core/syscall';
import { getTcpInfo } from '../options/tcpinfo';
import { listenerFd } from '../node/target';
import type { TuningPath } from '../core/table';
import { NOT_SHOWN, invalidValue } from '../core/validate';
import { mergePlans, pathsPlan, subPlan, type Plan, type Tuning } from '../tuning/tuning';
import { applyPlan, applyPlanToFd } from '../tuning/apply';
import { driftOf, getTuning, snapshotPlan } from '../tuning/readback';
import { listenerConflicts, notApplicableError, type ListenerConflict } from '../tuning/listener';
import { claimServer, onServerConnection, onServerListening, onServerSession, releaseServer, type ServerOwner } from '../node/hooks';
import { isHttp2Server, serverHandle } from '../node/kinds';

/** How a server's tuning holds, once it listens. */
export interface ServerTuningMode {
  /**
   * `'listener'`: tuned once; `'per-connection'`: on each accepted socket; `'both'`: some fields each
   * way; `'none'`: no field applies to this server (tuneServers() on an AF_UNIX server given only TCP fields).
   */
  readonly mode: 'listener' | 'per-connection' | 'both' | 'none';
  /** The fields set on each accepted socket (or http2 session), if any. */
  readonly perConnection: readonly TuningPath[];
  /**
   * The fields tuneServers() left out because they do not apply to this server's address family
   * (TCP fields on an AF_UNIX server); always empty from tuneServer(), which refuses them instead.
   */
  readonly skipped: readonly TuningPath[];
  /** Why those fields cannot be left to the listener (or do not apply). */
  readonly reasons: readonly string[];
  /** The platform the decision was made for (`process.platform` when the server started listening). */
  readonly platform: NodeJS.Platform;
  /**
   * Connections already in the listener's accept queue when it was tuned (TCP_INFO's unacked on the
   * listener): their handshakes completed with its old options, so each accepted socket is read back
   * and tuned until one carries the tuning. 0 where the listener holds no field.
   */
  readonly queuedAtTuning: number;
}

/**
 * What tuneServer() returns: `ready` resolves with the mode once the server listens (rejects if the
 * kernel refuses the listener's tuning), `stop()` tunes no further socket. `'error'` reports a
 * refusal (the listener's at 'listening', or the first one on an accepted socket, which is then
 * destroyed with it); the server keeps running. Without an 'error' listener, a refusal is a process
 * warning instead.
 */
export interface ServerTuner extends EventEmitter {
  readonly ready: Promise<ServerTuningMode>;
  /** The tuning as validated (frozen; times in the kernel's units). */
  readonly tuning: Readonly<Tuning>;
  stop(): void;
}

function ignore(): void {}

/** A listener's accept-queue length now (TCP_INFO's unacked on a listening socket), undefined where unknown (qemu-user, other kernels). */
function acceptQueueLength(fd: number): number | undefined {
  try {
    return getTcpInfo(fd).unacked;
  } catch {
    return undefined;
  }
}

/** Where a tuning's fields go on one listen: on the listener, per connection, or nowhere (skipped, with why). */
interface Placement {
  readonly perConnection: Plan;
  readonly onListener: Plan;
  readonly skipped: TuningPath[];
  readonly reasons: string[];
}

/** The Tuning fields socket-knobs ever set on each server's listener (weakly: a closed server goes). */
const listenerFieldsEver = new WeakMap<net.Server, Set<TuningPath>>();

export class ServerTunerImpl extends EventEmitter implements ServerTuner, ServerOwner {
  readonly ready: Promise<ServerTuningMode>;
  readonly tuning: Readonly<Tuning>;
  private stopped = false;
  private reported = false;
  private settle!: { resolve(mode: ServerTuningMode): void; reject(err: Error): void; done: boolean };
  private unhook: (() => void)[] = [];
  /** The listening handle last tuned, so that the listen channel and 'listening' tune it once. */
  private tunedHandle: object | null = null;
  /** What the listener held before this tuning, put back if a later tuning replaces this one. */
  private restore: { handle: object; fd: number; plan: Plan } | null = null;
  private readonly onListening = (): void => this.applyToListener();
  private readonly onServerError = (err: Error & { errno?: unknown; syscall?: unknown }): void => {
    // listen() failed (EADDRINUSE...) before this tuner ever saw the server listen: ready rejects,
    // and the tuner lets go (a rejected ready never turns into a tuning later).
    if (this.settle.done || this.server.listening) return;
    this.abandon(typeof err.errno === 'number' ? syscallError(err.errno, typeof err.syscall === 'string' ? err.syscall : 'listen') : err);
  };
  private readonly onServerClose = (): void => {
    // The stale 'close' of a close() made just before a new listen() is not this server closing.
    if (!this.settle.done && !this.server.listening)
      this.abandon(new SocketStateError('ERR_SOCKET_CLOSED', 'The server was closed before it listened: nothing was tuned'));
  };
  private readonly stopListening: () => void;

  constructor(
    private readonly server: net.Server,
    private readonly plan: Plan,
    /** tuneServer() (true) or tuneServers() (false): an explicit tuning wins over the process-wide one. */
    readonly explicit: boolean,
    /** The conflicts tuneServer() already computed for the listener it found (used once, at the first listen: not computed twice). */
    private knownConflicts?: ListenerConflict[],
  ) {
    super();
    this.tuning = plan.tuning;
    this.ready = new Promise<ServerTuningMode>((resolve, reject) => {
      this.settle = { resolve, reject, done: false };
    });
    // Awaiting `ready` is optional: a refusal is also 'error' (or a warning), never an unhandled rejection.
    this.ready.catch(() => {});
    // Inside listen(), right after listen(2), where Node publishes it; 'listening' otherwise.
    this.stopListening = onServerListening(server, this.onListening);
    server.on('listening', this.onListening);
    server.on('error', this.onServerError);
    server.on('close', this.onServerClose);
  }

  /** Takes the server (unless an explicit tuning holds it and this one is process-wide) and tunes it if it listens. */
  start(): boolean {
    if (!claimServer(this.server, this)) {
      this.detach();
      this.stopped = true;
      return false;
    }
    if (this.server.listening) this.applyToListener();
    return true;
  }

  private settleWith(err: Error): void {
    if (this.settle.done) return;
    this.settle.done = true;
    this.settle.reject(err);
  }

  /** At each listen: tune what the listener can hold, and set the rest on each accepted socket. */
  /**
   * Where each field goes, decided per platform and address family (lib/core/inheritance.ts), also
   * for a round-robin worker, which has no listener of its own: a field that does not apply to the
   * family (TCP on AF_UNIX) is never attempted on a connection; tuneServer() refuses it (an Error).
   */
  private placeFields(fd: number | 'primary'): Placement | Error {
    const conflicts = this.knownConflicts ?? listenerConflicts(this.server, this.plan);
    this.knownConflicts = undefined; // a later listen may be another family: computed again
    const notApplicable = conflicts.filter((c) => !c.applies);
    if (notApplicable.length > 0 && this.explicit) return notApplicableError(notApplicable[0]!);
    const skipped = new Set(notApplicable.map((c) => c.path));
    const moved = new Set(conflicts.filter((c) => c.applies).map((c) => c.path));
    const reasons = conflicts.map((c) => `${c.path}: ${c.reason}`);
    const applicable = subPlan(this.plan, (row) => !skipped.has(row.tuning!));
    if (fd === 'primary') {
      reasons.push('this cluster worker listens through the primary (round-robin scheduling): it has no listening socket of its own to tune');
      return { perConnection: applicable, onListener: subPlan(this.plan, () => false), skipped: [...skipped], reasons };
    }
    return {
      perConnection: subPlan(applicable, (row) => moved.has(row.tuning!)),
      onListener: subPlan(applicable, (row) => !moved.has(row.tuning!)),
      skipped: [...skipped],
      reasons,
    };
  }

  /** At each listen: tune what the listener can hold, and set the rest on each accepted socket. */
  private applyToListener(): void {
    if (this.stopped || !this.server.listening) return;
    const handle = serverHandle(this.server);
    if (handle !== null && handle === this.tunedHandle) return;
    this.tunedHandle = handle;
    for (const undo of this.unhook.splice(0)) undo();
    const fd = listenerFd(this.server);
    const placed = this.placeFields(fd);
    if (placed instanceof Error) {
      this.fail(placed, true);
      return;
    }
    const { perConnection, onListener } = placed;
    let queued = 0;
    try {
      if (onListener.fields.length > 0) {
        if (typeof fd !== 'number' || fd < 0 || handle === null) throw invalidValue('server', 'is listening without a file descriptor', NOT_SHOWN);
        this.restore = { handle, fd, plan: snapshotPlan(fd, onListener) };
        applyPlanToFd(fd, onListener);
        const ever = listenerFieldsEver.get(this.server) ?? new Set<TuningPath>();
        listenerFieldsEver.set(this.server, ever);
        for (const f of onListener.fields) ever.add(f.path);
        const length = acceptQueueLength(fd);
        queued = length ?? 0;
        // Connections whose handshake completed before the listener was tuned were cloned from its
        // old options: those are caught at accept (sweepAcceptQueue).
        if (length !== 0) this.sweepAcceptQueue(fd, onListener, length);
      }
    } catch (err) {
      this.fail(err as Error, true);
      return;
    }
    if (perConnection.fields.length > 0) this.tuneEachConnection(perConnection);
    this.resolveReady(placed, queued);
  }

  /** ready, once: how the tuning holds. */
  private resolveReady({ perConnection, onListener, skipped, reasons }: Placement, queued: number): void {
    if (this.settle.done) return;
    const mode =
      perConnection.fields.length === 0 ? (onListener.fields.length === 0 ? 'none' : 'listener') : onListener.fields.length === 0 ? 'per-connection' : 'both';
    this.settle.done = true;
    this.settle.resolve(
      Object.freeze({ mode, perConnection: perConnection.fields.map((f) => f.path), skipped, reasons, platform: process.platform, queuedAtTuning: queued }),
    );
  }

  /**
   * Reads back accepted sockets, tuning those that lack the listener's fields. The fields compared
   * are this tuning's and any an earlier tuning set on this server's listener (a replaced one, put
   * back): a socket cloned under the old tuning gets the listener's values now, so a replacement is
   * whole on queued connections too.
   *
   * The accept queue is first in, first out, and `queued` (its length read right after the listener
   * was tuned) counts every connection cloned before the tuning, and perhaps a few after. So the
   * first `queued` sockets this process accepts are read back and tuned where they differ; every
   * later one was cloned after the tuning, also where other processes accept from the same queue
   * (they can only have taken some of the old ones). A read-back alone would stop too early when an
   * old connection happens to carry the new values (a tuning replaced, then put back). Where the
   * length is unknown, sockets are read back until one carries the tuning.
   */
  private sweepAcceptQueue(fd: number, applied: Plan, queued: number | undefined): void {
    const ever = listenerFieldsEver.get(this.server)!;
    const others = [...ever].filter((path) => !applied.fields.some((f) => f.path === path));
    let onListener = applied;
    try {
      if (others.length > 0) onListener = mergePlans(applied, snapshotPlan(fd, pathsPlan(others)));
    } catch {
      // The listener closed meanwhile: this tuning's own fields still decide.
    }
    let unhook: () => void = () => {};
    let accepted = 0;
    unhook = onServerConnection(this.server, (socket) => {
      accepted++;
      let holds: boolean;
      try {
        holds = driftOf(onListener, getTuning(socket)).length === 0;
      } catch {
        holds = false;
      }
      if (!holds) this.applyTo(socket, onListener);
      if (queued === undefined ? holds : accepted >= queued) unhook();
    });
    this.unhook.push(() => unhook());
  }

  /** Sets `plan` on an accepted socket; a refusal destroys that socket with the error, reported once. */
  private applyTo(socket: net.Socket, plan: Plan): void {
    try {
      applyPlan(socket, plan);
    } catch (err) {
      // The application's own handlers still see the error; a server with none must not crash
      // over one connection (an 'error' nobody listens to is thrown).
      socket.on('error', ignore);
      socket.destroy(err as Error);
      this.fail(err as Error, false);
    }
  }

  /** Sets `plan` on each accepted socket, or for http2's TCP_NODELAY on each session's socket. */
  private tuneEachConnection(plan: Plan): void {
    const http2 = isHttp2Server(this.server);
    // http2 sets TCP_NODELAY when the session starts, after 'connection': that field waits for 'session'.
    const atSession = http2 ? subPlan(plan, (row) => row.tuning === 'noDelay') : subPlan(plan, () => false);
    const atConnection = http2 ? subPlan(plan, (row) => row.tuning !== 'noDelay') : plan;
    if (atConnection.fields.length > 0) this.unhook.push(onServerConnection(this.server, (socket) => this.applyTo(socket, atConnection)));
    if (atSession.fields.length > 0) {
      this.unhook.push(
        onServerSession(this.server, (session) => {
          try {
            applyPlan(session.socket, atSession);
          } catch (err) {
            (session as unknown as EventEmitter).on('error', ignore);
            session.destroy(err as Error);
            this.fail(err as Error, false);
          }
        }),
      );
    }
  }

  /** Reports a refusal: 'error' (or a warning without a listener), once for accepted sockets. */
  private fail(err: Error, atListener: boolean): void {
    if (atListener) this.settleWith(err);
    if (!atListener && this.reported) return;
    if (!atListener) this.reported = true;
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else warn(err, 'SOCKET_KNOBS_SERVER_TUNING');
  }

  /** Removes everything this tuner put on the server (its listeners and hooks). */
  private detach(): void {
    this.stopListening();
    this.server.removeListener('listening', this.onListening);
    this.server.removeListener('error', this.onServerError);
    this.server.removeListener('close', this.onServerClose);
    for (const undo of this.unhook.splice(0)) undo();
  }

  /** ready rejects with `err` and the tuner stops: nothing of it stays on the server. */
  private abandon(err: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    this.detach();
    releaseServer(this.server, this);
    this.settleWith(err);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.detach();
    releaseServer(this.server, this);
    this.settleWith(new SocketStateError('ERR_SOCKET_KNOBS_STOPPED', 'stop() was called before the server listened: nothing was tuned'));
  }

  /**
   * A later tuning took the server: this one stops, and what it set on the listener is put back, so
   * the new tuning replaces it whole (no field of this one left behind on the listener).
   */
  replaced(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.detach();
    const restore = this.restore;
    this.restore = null;
    if (restore && serverHandle(this.server) === restore.handle) {
      try {
        applyPlanToFd(restore.fd, restore.plan);
      } catch (err) {
        this.fail(err as Error, false);
      }
    }
    this.settleWith(new SocketStateError('ERR_SOCKET_KNOBS_REPLACED', 'a later tuneServer() on this server replaced this tuning before the server listened'));
  }
}
