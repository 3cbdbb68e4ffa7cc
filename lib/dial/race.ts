/**
 * The connection race: each attempt a fresh socket of its address's family with the options set
 * before connect(), adopted by a net.Socket; the first to connect wins and the others are closed
 * (Node's own racing would replace the adopted socket with one that has none of the options).
 */
import type net = require('node:net');
import type dns = require('node:dns');
import { SocketOptionError } from '../core/errors';
import { net as netModule, os } from '../core/builtins';
import { bindSocket, closeSocket, constants, socketError, syscallError, tryOpenSocket } from '../core/syscall';
import { fdChanged, runControl } from '../node/fdidentity';
import { invalidValue } from '../core/validate';
import { applyPlan, applyPlanToFd } from '../tuning/apply';
import type { Plan } from '../tuning/tuning';
import type { DialPlan } from './plan';
import { addressesOf, lookupAddresses } from './resolve';

/** An error of Node's (errno, syscall, address, port) as the package's SyscallError. */
export function typed(err: unknown, address: string, port: number): Error {
  if (err instanceof SocketOptionError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.errno === 'number') return syscallError(e.errno, e.syscall || 'connect', { address, port });
  return err instanceof Error ? err : new Error(String(err));
}

/** What an attempt calls, exactly once: with its connected socket, or with its error and its socket (closed by the caller). */
interface Outcome {
  connected(socket: net.Socket): void;
  failed(err: Error, socket: net.Socket): void;
}

/**
 * One attempt: a socket of the address's family with the options set, bound if asked, adopted by a
 * net.Socket that connects it (or, with nothing to set before connect, a net.Socket of Node's own).
 * Synchronous until connect() has been called (it throws what is refused before then); `outcome`
 * is called once it has connected or failed. Returns the socket.
 */
function attempt(plan: DialPlan, target: dns.LookupAddress, outcome: Outcome): net.Socket {
  const local = plan.localAddress ?? (plan.localPort !== 0 ? (target.family === 6 ? '::' : '0.0.0.0') : undefined);
  if (local !== undefined && netModule().isIP(local) !== target.family)
    throw invalidValue('options.localAddress', `is not an IPv${target.family} address, the family of ${target.address}`, local);
  // Nothing to set before connect(): Node makes the socket and binds it itself, as net.connect()
  // does (no adoption: fewer syscalls); the tuning is set once connected (dialPlanned).
  if (nothingBeforeConnect(plan)) return connecting(plan, target, new (netModule().Socket)(), local, outcome);
  return connecting(plan, target, adoptedSocket(plan, target, local), undefined, outcome);
}

/** True where no option has to be on the socket before its SYN (no pre-connect field, no control, plain TCP). */
function nothingBeforeConnect(plan: DialPlan): boolean {
  return plan.beforeConnect.length === 0 && (!plan.early || plan.early.fields.length === 0) && !plan.control && plan.protocol === 0 && !plan.fastOpen;
}

/** A dial whose tuning sets nothing before the SYN: its pre-connect fields alone. */
const NO_EARLY_FIELDS: Plan = Object.freeze({ fields: [], intCount: 0, tuning: Object.freeze({}) });

/** A socket of the address's family made by the addon, its options set, bound if asked, adopted by a net.Socket (not yet connected). */
function adoptedSocket(plan: DialPlan, target: dns.LookupAddress, local: string | undefined): net.Socket {
  const c = constants;
  const domain = target.family === 6 ? c.AF_INET6! : c.AF_INET!;
  const fd = tryOpenSocket(domain, c.SOCK_STREAM!, plan.protocol);
  if (fd < 0) throw socketError(-fd, plan.protocol);
  let adopted: net.Socket | undefined;
  try {
    // The pre-connect fields and the tuning's before-SYN ints in one crossing, by one path (an
    // error named for MPTCP the same way with or without a tuning).
    if (plan.early !== undefined || plan.beforeConnect.length > 0) applyPlanToFd(fd, plan.early ?? NO_EARLY_FIELDS, plan.beforeConnect);
    if (local !== undefined) bindSocket(fd, domain, local, plan.localPort, 0, local);
    if (plan.control) runControl(fd, plan.control, 'options.control');
    adopted = new (netModule().Socket)({ fd, readable: true, writable: true });
  } catch (err) {
    // Never close a number control(fd) closed: it may already be another file's.
    if (!adopted && !fdChanged(err)) closeSocket(fd);
    throw err;
  }
  return adopted;
}

/** `socket` connecting to `target` (`local`: the address Node binds it to first, where Node makes the socket); tells `outcome` once. */
function connecting(plan: DialPlan, target: dns.LookupAddress, socket: net.Socket, local: string | undefined, outcome: Outcome): net.Socket {
  // on(), each handler removing both: once() makes a wrapper and its state per listener, at every dial.
  const onError = (err: Error): void => {
    socket.removeListener('error', onError);
    socket.removeListener('connect', onConnect);
    outcome.failed(typed(err, target.address, plan.port), socket);
  };
  const onConnect = (): void => {
    socket.removeListener('error', onError);
    socket.removeListener('connect', onConnect);
    outcome.connected(socket);
  };
  socket.on('error', onError);
  socket.on('connect', onConnect);
  // A literal of each shape (a spread into a literal is a copy made at run time).
  const port = plan.port;
  const host = target.address;
  socket.connect(
    (local === undefined
      ? { port, host, autoSelectFamily: false }
      : { port, host, autoSelectFamily: false, localAddress: local, localPort: plan.localPort }) as net.TcpSocketConnectOpts,
  );
  return socket;
}

/** The addresses a dial tries, in order: Fast Open connects before any SYN, so only the first can be tried; so without autoSelectFamily, as Node. */
function candidatesOf(plan: DialPlan, addresses: dns.LookupAddress[]): dns.LookupAddress[] {
  return plan.fastOpen || !plan.autoSelectFamily ? addresses.slice(0, 1) : addresses;
}

/** Races the addresses; resolves with the first socket that connects, closing the others. */
function race(plan: DialPlan, addresses: dns.LookupAddress[], deadline: Promise<never> | undefined): Promise<net.Socket> {
  const candidates = candidatesOf(plan, addresses);
  return new Promise<net.Socket>((resolveWinner, reject) => {
    const pending = new Set<net.Socket>();
    const errors: string[] = [];
    let next = 0;
    let settled = false;
    let lastError: Error | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | null, winner?: net.Socket): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      for (const s of pending) if (s !== winner) s.destroy();
      pending.clear();
      if (err) reject(err);
      else resolveWinner(winner!);
    };
    const startNext = (): void => {
      if (settled) return;
      if (timer) clearTimeout(timer);
      if (next >= candidates.length) {
        if (pending.size === 0) {
          const detail = errors.length > 1 ? `${errors.length} addresses tried: ${errors.join(', ')}` : undefined;
          const last = lastError as (SocketOptionError & { errno?: number; syscall?: string; address?: string; port?: number }) | undefined;
          finish(
            last && detail && typeof last.errno === 'number'
              ? syscallError(last.errno, last.syscall ?? 'connect', { address: plan.host, port: plan.port }, undefined, detail)
              : (last ?? new Error('no address to try')),
          );
        }
        return;
      }
      const target = candidates[next++]!;
      const outcome: Outcome = {
        connected: (socket) => finish(null, socket),
        failed: (err, socket) => {
          pending.delete(socket);
          socket.destroy();
          lastError = err;
          errors.push(`${target.address} ${(err as { code?: string }).code ?? err.message}`);
          startNext();
        },
      };
      try {
        pending.add(attempt(plan, target, outcome));
      } catch (err) {
        // An option the kernel refuses, a control() that threw: the same for every address.
        finish(err as Error);
        return;
      }
      // RFC 8305: the next address after a delay, if this one has not connected by then.
      if (next < candidates.length) {
        timer = setTimeout(startNext, plan.attemptDelay);
        timer.unref();
      }
    };
    if (deadline) deadline.catch((err: Error) => finish(err));
    startNext();
  });
}

export function dialPlanned(plan: DialPlan): Promise<net.Socket> {
  // No deadline: the name looked up (an address literal is its own answer, at once, as net.connect()
  // does no lookup for one), then where the race would try one address (the only answer, or Fast
  // Open, or autoSelectFamily off), that one attempt, settled as the race would settle it, without
  // the race's promise and state (profiled: they and the async steps around them were a fifth of
  // such a dial's own CPU). One promise per dial.
  if (plan.connectTimeout === undefined) {
    return new Promise((resolve, reject) =>
      lookupAddresses(plan, (err, addresses) => {
        if (err) return reject(err);
        const candidates = candidatesOf(plan, addresses!);
        if (candidates.length === 1) alone(plan, candidates[0]!, resolve, reject);
        else
          race(plan, candidates, undefined)
            .then((socket) => connected(plan, socket))
            .then(resolve, reject);
      }),
    );
  }
  let deadlineTimer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    deadlineTimer = setTimeout(
      () =>
        reject(
          syscallError(
            os().constants.errno.ETIMEDOUT,
            'connect',
            { address: plan.host, port: plan.port },
            undefined,
            `no connection within ${plan.connectTimeout} ms (connectTimeout; name lookup included)`,
          ),
        ),
      plan.connectTimeout,
    );
  });
  const done = (async () => {
    const addresses = await Promise.race([addressesOf(plan), deadline]);
    return connected(plan, await race(plan, addresses, deadline));
  })();
  return done.finally(() => clearTimeout(deadlineTimer));
}

/** One attempt at `target`, settled as the race would settle it: the connected socket with what is set once connected, or the attempt's error (its socket closed). */
function alone(plan: DialPlan, target: dns.LookupAddress, resolve: (socket: net.Socket) => void, reject: (err: Error) => void): void {
  try {
    attempt(plan, target, {
      connected: (socket) => {
        try {
          resolve(connected(plan, socket));
        } catch (err) {
          reject(err as Error);
        }
      },
      failed: (err, socket) => {
        socket.destroy();
        reject(err);
      },
    });
  } catch (err) {
    reject(err as Error);
  }
}

/** The connected `socket` with what is set once connected: Node's own settings from the client's options, then the tuning's. */
function connected(plan: DialPlan, socket: net.Socket): net.Socket {
  try {
    // Node's own settings from the client's options first, as net.connect() would make them; the
    // tuning after, so where both name a field the tuning is what holds.
    const own = plan.socketOptions;
    if (own?.noDelay !== undefined) socket.setNoDelay(own.noDelay);
    if (own?.keepAlive) socket.setKeepAlive(true, own.keepAliveInitialDelay ?? 0);
    if (plan.late && plan.late.fields.length > 0) applyPlan(socket, plan.late);
  } catch (err) {
    socket.destroy();
    throw err;
  }
  if (plan.timeout !== undefined) socket.setTimeout(plan.timeout);
  return socket;
}
