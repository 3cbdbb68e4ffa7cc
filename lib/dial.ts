/**
 * Dial: client sockets with their options set before connect(), which Node cannot do (it creates
 * the socket and connects in one step). The addon creates the socket, the options are set, and the
 * fd is adopted by a `net.Socket` that connects it. Host names are resolved here and the addresses
 * raced here, as Node's autoSelectFamily does (RFC 8305's spirit): Node's own racing would replace
 * the adopted socket with a fresh one that has none of the options (measured: TCP_SYNCNT 3 became
 * 6, same fd number), so a socket is handed back only once one of ours has connected.
 */
import type net = require('node:net');
import type dns = require('node:dns');
import { SocketOptionError, UnsupportedOptionError } from './core/errors';
import { net as netModule, os } from './core/builtins';
import {
  bindSocket,
  closeSocket,
  constants,
  queue,
  applyQueued,
  requireAddon,
  resolve,
  socketError,
  streamProtocol,
  syscallError,
  tryOpenSocket,
  type Resolved,
} from './core/syscall';
import { fdChanged, runControl } from './node/fdidentity';
import { checkMptcp } from './options/mptcp';
import { validateTime, type Duration } from './core/units';
import { NOT_SHOWN, invalidType, invalidValue, readOptions, validateBoolean, validateInteger } from './core/validate';
import { applyPlan, applyPlanToFd, compileTuning, subPlan, type Plan, type Tuning } from './tuning/tuning';
import { setAgentCreate, wrapConnector, type Connector } from './node/hooks';
import { isAgent } from './node/kinds';
import { setAgentTuning } from './tuning/attach';

export interface DialOptions {
  /** A host name or an IP literal. */
  host: string;
  port: number;
  /** 4 or 6: only that family's addresses (default: both). */
  family?: 0 | 4 | 6;
  /** getaddrinfo hints (dns.ADDRCONFIG, ...). */
  hints?: number;
  /** A resolver with dns.lookup's signature (called with `{ all: true }`). */
  lookup?: (hostname: string, options: dns.LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void) => void;
  /** The local address to bind (an IP literal of the address's family). */
  localAddress?: string;
  /** The local port to bind (with localAddress, or alone). */
  localPort?: number;
  /** Milliseconds (or a duration string) for the whole race, name lookup included; past it, ETIMEDOUT. */
  connectTimeout?: Duration;
  /** Milliseconds before the next address is tried while one is still pending (default 250, Node's). */
  attemptDelay?: Duration;
  /** Node's idle timeout on the connected socket (socket.setTimeout), in milliseconds. */
  timeout?: Duration;
  /** TCP_SYNCNT: SYN retransmissions before connect() gives up (1..127; Linux). */
  synRetries?: number;
  /** TCP_FASTOPEN_CONNECT: the first write rides in the SYN once a cookie is cached (Linux). One address is tried. */
  fastOpen?: boolean;
  /** IP_BIND_ADDRESS_NO_PORT: bind localAddress without reserving a port until connect (Linux; localPort 0 only). */
  bindAddressNoPort?: boolean;
  /** Multipath TCP (IPPROTO_MPTCP at socket creation; Linux 5.6+ with net.mptcp.enabled). */
  mptcp?: boolean;
  /** A Tuning: SO_RCVBUF and SO_SNDBUF before the SYN (where the window scale is negotiated), the rest once connected. */
  tuning?: Tuning;
  /** Called with each attempt's fd before connect (Go's Dialer.Control). If it throws, the fd is closed and the error rethrown; do not keep the fd. */
  control?: (fd: number) => void;
}

const DIAL_FIELDS = [
  'host',
  'port',
  'family',
  'hints',
  'lookup',
  'localAddress',
  'localPort',
  'connectTimeout',
  'attemptDelay',
  'timeout',
  'synRetries',
  'fastOpen',
  'bindAddressNoPort',
  'mptcp',
  'tuning',
  'control',
] as const;

const MS = { unit: 'milliseconds' as const, min: 1, max: 2147483647 };

/** libuv's EAI_NONAME (the same number on every platform): a name with no usable address. */
const UV_EAI_NONAME = 3008;

/** A dial, validated: everything checked, every option resolved on this platform, before any socket exists. */
interface DialPlan {
  readonly host: string;
  readonly port: number;
  readonly family: 0 | 4 | 6;
  readonly hints: number | undefined;
  readonly lookup: DialOptions['lookup'] | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number;
  readonly connectTimeout: number | undefined;
  readonly attemptDelay: number;
  /** False: one address, from a lookup without `all`, as net.connect({ autoSelectFamily: false }) does. */
  readonly autoSelectFamily: boolean;
  readonly timeout: number | undefined;
  /** What Node's net.connect() would set on the connected socket from a client's connection options (dialAgent). */
  readonly socketOptions: SocketOptions | undefined;
  /** socket()'s protocol: IPPROTO_MPTCP for Multipath TCP, else 0. */
  readonly protocol: number;
  readonly fastOpen: boolean;
  /** Int options set on each attempt's socket before connect (and before bind where it matters). */
  readonly beforeConnect: readonly (readonly [Resolved, number])[];
  /** The tuning's fields set before the SYN (buffer sizes), and the rest, set once connected. */
  readonly early: Plan | undefined;
  readonly late: Plan | undefined;
  readonly control: ((fd: number) => void) | undefined;
}

/** Validates dial options; throws InvalidArgumentError or UnsupportedOptionError before any socket exists. */
function compileDial(options: unknown): DialPlan {
  requireAddon();
  if (process.platform === 'win32') {
    throw new UnsupportedOptionError(
      'dial()',
      'win32',
      'Node cannot adopt a socket from a descriptor on Windows (its sockets are handles it does not expose), so the options cannot be set before connect there',
    );
  }
  if (options === undefined) throw invalidType('options', 'of type object', options);
  const given = readOptions(options, 'options', DIAL_FIELDS);
  if (typeof given.host !== 'string' || given.host.length === 0 || given.host.length > 253)
    throw invalidType('options.host', 'a host name or IP address (a non-empty string)', given.host);
  const port = validateInteger(given.port, 'options.port', 1, 65535);
  const family = given.family === undefined ? 0 : given.family;
  if (family !== 0 && family !== 4 && family !== 6) throw invalidValue('options.family', 'must be 0, 4 or 6', family);
  const hints = given.hints === undefined ? undefined : validateInteger(given.hints, 'options.hints', 0, 2147483647);
  if (given.lookup !== undefined && typeof given.lookup !== 'function') throw invalidType('options.lookup', 'of type function', given.lookup);
  if (given.control !== undefined && typeof given.control !== 'function') throw invalidType('options.control', 'of type function', given.control);
  let localAddress: string | undefined;
  if (given.localAddress !== undefined) {
    if (typeof given.localAddress !== 'string' || netModule().isIP(given.localAddress) === 0)
      throw invalidValue('options.localAddress', 'must be an IP address literal', given.localAddress);
    localAddress = given.localAddress;
  }
  const localPort = given.localPort === undefined ? 0 : validateInteger(given.localPort, 'options.localPort', 0, 65535);
  const connectTimeout = given.connectTimeout === undefined ? undefined : validateTime(given.connectTimeout, 'options.connectTimeout', MS);
  const attemptDelay =
    given.attemptDelay === undefined ? 250 : validateTime(given.attemptDelay, 'options.attemptDelay', { unit: 'milliseconds', min: 10, max: 2147483647 });
  const timeout = given.timeout === undefined ? undefined : validateTime(given.timeout, 'options.timeout', { unit: 'milliseconds', min: 0, max: 2147483647 });
  const mptcp = given.mptcp === undefined ? false : validateBoolean(given.mptcp, 'options.mptcp');
  const fastOpen = given.fastOpen === undefined ? false : validateBoolean(given.fastOpen, 'options.fastOpen');
  const bindNoPort = given.bindAddressNoPort === undefined ? false : validateBoolean(given.bindAddressNoPort, 'options.bindAddressNoPort');
  if (bindNoPort && (localAddress === undefined || localPort !== 0)) {
    throw invalidValue('options.bindAddressNoPort', 'needs a localAddress and no localPort (the port is chosen at connect)', NOT_SHOWN);
  }
  // Every option must exist here before any socket does (UnsupportedOptionError elsewhere).
  const beforeConnect: [Resolved, number][] = [];
  if (given.synRetries !== undefined) {
    const option = resolve('TCP_SYNCNT');
    beforeConnect.push([option, validateInteger(given.synRetries, 'options.synRetries', option.min, option.max, 'retries')]);
  }
  if (fastOpen) beforeConnect.push([resolve('TCP_FASTOPEN_CONNECT'), 1]);
  if (bindNoPort) beforeConnect.push([resolve('IP_BIND_ADDRESS_NO_PORT'), 1]);
  const protocol = streamProtocol(mptcp);
  let early: Plan | undefined;
  let late: Plan | undefined;
  let planned: Plan | undefined;
  if (given.tuning !== undefined) {
    planned = compileTuning(given.tuning, 'options.tuning');
    const beforeSyn = (row: { tuning?: string }): boolean => row.tuning === 'receiveBufferSize' || row.tuning === 'sendBufferSize';
    early = subPlan(planned, beforeSyn);
    late = subPlan(planned, (row) => !beforeSyn(row));
  }
  // Known before the first syscall: what an MPTCP socket refuses (probed once per process).
  if (mptcp) checkMptcp([...beforeConnect.map(([option]) => option.row.name), ...(planned?.fields.map((f) => f.option.row.name) ?? [])], 'dial()');
  return {
    host: given.host,
    port,
    family,
    hints,
    lookup: given.lookup as DialOptions['lookup'],
    localAddress,
    localPort,
    connectTimeout,
    attemptDelay,
    autoSelectFamily: true,
    timeout,
    socketOptions: undefined,
    protocol,
    fastOpen,
    beforeConnect,
    early,
    late,
    control: given.control as DialPlan['control'],
  };
}

/** The addresses of `plan.host`, in the order to try: the first family first, then alternating (RFC 8305). */
function addressesOf(plan: DialPlan): Promise<dns.LookupAddress[]> {
  const literal = netModule().isIP(plan.host);
  if (literal !== 0) {
    if (plan.family !== 0 && plan.family !== literal)
      return Promise.reject(invalidValue('options.host', `is an IPv${literal} address, but family is ${plan.family}`, plan.host));
    return Promise.resolve([{ address: plan.host, family: literal }]);
  }
  const lookup = plan.lookup ?? (require('node:dns') as typeof dns).lookup;
  return new Promise((resolveAddresses, reject) => {
    // Called as Node's net.connect() calls it (nodejs/node/lib/net.js, lookupAndConnect): ADDRCONFIG when no family
    // and no hints are given (not on Windows); every address (`all: true`) only when it would race
    // them itself: no family, no localAddress, autoSelectFamily on. Otherwise one address, answered
    // as (err, address, family). A resolver passed by a client (an SSRF guard, a DNS pin) sees what it
    // would see under Node.
    const hints = plan.hints || (process.platform !== 'win32' && plan.family === 0 ? (require('node:dns') as typeof dns).ADDRCONFIG : 0);
    const all = plan.family === 0 && plan.localAddress === undefined && plan.autoSelectFamily;
    const options = { family: plan.family === 0 ? undefined : plan.family, hints, ...(all ? { all: true } : {}) } as dns.LookupAllOptions;
    let answered = false;
    // A resolver may throw, call back twice, or answer with anything: the first answer counts, and
    // only well-formed addresses are tried.
    const onLookup = (err: NodeJS.ErrnoException | null, answer: unknown, answerFamily?: unknown): void => {
      if (answered) return;
      answered = true;
      // The one-address form, when that is what was asked for.
      const addresses = !all && typeof answer === 'string' ? [{ address: answer, family: answerFamily }] : answer;
      if (err) {
        reject(
          err.errno !== undefined
            ? syscallError(
                Math.abs(Number(err.errno)) || UV_EAI_NONAME,
                'getaddrinfo',
                { address: plan.host, port: plan.port },
                undefined,
                err.code === 'ENOTFOUND' ? 'no such host' : undefined,
              )
            : err,
        );
        return;
      }
      if (!Array.isArray(addresses)) {
        reject(
          invalidValue(
            'options.lookup',
            all
              ? 'called back with something other than an array of { address, family } (what dns.lookup gives with all: true)'
              : 'called back with something other than (err, address, family) or an array of { address, family }',
            addresses,
          ),
        );
        return;
      }
      const list = (addresses as unknown[]).filter(
        (a): a is dns.LookupAddress =>
          a !== null &&
          typeof a === 'object' &&
          typeof (a as dns.LookupAddress).address === 'string' &&
          netModule().isIP((a as dns.LookupAddress).address) === (a as dns.LookupAddress).family &&
          (plan.family === 0 || (a as dns.LookupAddress).family === plan.family),
      );
      if (list.length === 0) {
        reject(
          syscallError(
            UV_EAI_NONAME,
            'getaddrinfo',
            { address: plan.host, port: plan.port },
            undefined,
            `no ${plan.family ? `IPv${plan.family} ` : ''}address`,
          ),
        );
        return;
      }
      // Interleave the families, starting with the first the resolver returned.
      const first = list.filter((a) => a.family === list[0]!.family);
      const other = list.filter((a) => a.family !== list[0]!.family);
      const ordered: dns.LookupAddress[] = [];
      for (let i = 0; i < Math.max(first.length, other.length); i++) {
        if (first[i]) ordered.push(first[i]!);
        if (other[i]) ordered.push(other[i]!);
      }
      resolveAddresses(ordered);
    };
    try {
      lookup(plan.host, options, onLookup as Parameters<NonNullable<DialOptions['lookup']>>[2]);
    } catch (err) {
      answered = true;
      reject(err);
    }
  });
}

/** An error of Node's (errno, syscall, address, port) as the package's SyscallError. */
function typed(err: unknown, address: string, port: number): Error {
  if (err instanceof SocketOptionError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.errno === 'number') return syscallError(e.errno, e.syscall || 'connect', { address, port });
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * One attempt: a socket of the address's family with the options set, bound if asked, adopted by a
 * net.Socket that connects it. Synchronous until connect() has been called; resolves with the
 * connected socket.
 */
function attempt(plan: DialPlan, target: dns.LookupAddress): { socket: net.Socket; connected: Promise<net.Socket> } {
  const c = constants;
  const domain = target.family === 6 ? c.AF_INET6! : c.AF_INET!;
  const fd = tryOpenSocket(domain, c.SOCK_STREAM!, plan.protocol);
  if (fd < 0) throw socketError(-fd, plan.protocol);
  let adopted: net.Socket | undefined;
  try {
    let n = 0;
    for (const [option, value] of plan.beforeConnect) queue(n++, option, value);
    if (n > 0) applyQueued(fd, n);
    if (plan.early && plan.early.fields.length > 0) applyPlanToFd(fd, plan.early);
    if (plan.localAddress !== undefined || plan.localPort !== 0) {
      const local = plan.localAddress ?? (target.family === 6 ? '::' : '0.0.0.0');
      if (netModule().isIP(local) !== target.family)
        throw invalidValue('options.localAddress', `is not an IPv${target.family} address, the family of ${target.address}`, local);
      bindSocket(fd, domain, local, plan.localPort, 0, local);
    }
    if (plan.control) runControl(fd, plan.control, 'options.control');
    adopted = new (netModule().Socket)({ fd, readable: true, writable: true });
  } catch (err) {
    // Never close a number control(fd) closed: it may already be another file's.
    if (!adopted && !fdChanged(err)) closeSocket(fd);
    throw err;
  }
  const socket = adopted;
  const connected = new Promise<net.Socket>((resolveSocket, reject) => {
    const onError = (err: Error): void => {
      socket.removeListener('connect', onConnect);
      reject(typed(err, target.address, plan.port));
    };
    const onConnect = (): void => {
      socket.removeListener('error', onError);
      resolveSocket(socket);
    };
    socket.once('error', onError);
    socket.once('connect', onConnect);
  });
  socket.connect({ port: plan.port, host: target.address, autoSelectFamily: false } as net.TcpSocketConnectOpts);
  return { socket, connected };
}

/** Races the addresses; resolves with the first socket that connects, closing the others. */
function race(plan: DialPlan, addresses: dns.LookupAddress[], deadline: Promise<never> | undefined): Promise<net.Socket> {
  // Fast Open connects before any SYN: only one address can be tried; so without autoSelectFamily, as Node.
  const candidates = plan.fastOpen || !plan.autoSelectFamily ? addresses.slice(0, 1) : addresses;
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
      let started: ReturnType<typeof attempt>;
      try {
        started = attempt(plan, target);
      } catch (err) {
        // An option the kernel refuses, a control() that threw: the same for every address.
        finish(err as Error);
        return;
      }
      pending.add(started.socket);
      started.connected.then(
        (socket) => finish(null, socket),
        (err: Error) => {
          pending.delete(started.socket);
          started.socket.destroy();
          lastError = err;
          errors.push(`${target.address} ${(err as { code?: string }).code ?? err.message}`);
          startNext();
        },
      );
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

/**
 * A connected `net.Socket` whose options were set before connect(): the name resolved here, its
 * addresses raced (each attempt a fresh socket of its family, the options set, adopted and connected
 * in the same tick; the first to connect wins, the others are closed). It behaves like
 * `net.connect()`'s socket (events, `setTimeout`, `tls.connect({ socket })` on top). Rejects with the
 * package's typed errors.
 */
export function dial(options: DialOptions): Promise<net.Socket> {
  let plan: DialPlan;
  try {
    plan = compileDial(options);
  } catch (err) {
    return Promise.reject(err);
  }
  return dialPlanned(plan);
}

function dialPlanned(plan: DialPlan): Promise<net.Socket> {
  let deadlineTimer: NodeJS.Timeout | undefined;
  const deadline =
    plan.connectTimeout === undefined
      ? undefined
      : new Promise<never>((_, reject) => {
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
    const addresses = deadline ? await Promise.race([addressesOf(plan), deadline]) : await addressesOf(plan);
    const socket = await race(plan, addresses, deadline);
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
  })();
  return done.finally(() => {
    if (deadlineTimer) clearTimeout(deadlineTimer);
  });
}

// ---------------------------------------------------------------------------------------------
// For the clients that open sockets for you.

/** The options of dialAgent() and dialConnector(): dial()'s, without the destination. */
export type DialerOptions = Omit<DialOptions, 'host' | 'port'>;

/** dial() options with a placeholder destination, for validating a dialer's options up front. */
function compileDialer(options: unknown): DialPlan {
  if (options !== undefined && (options === null || typeof options !== 'object')) throw invalidType('options', 'of type object', options);
  const given = readOptions(options, 'options', DIAL_FIELDS);
  if (given.host !== undefined || given.port !== undefined) throw invalidValue('options', 'takes no host or port: each connection has its own', NOT_SHOWN);
  return compileDial({ ...given, host: 'localhost', port: 1 });
}

/** What net.connect() sets on a socket from its options, that dialAgent() sets the same way. */
interface SocketOptions {
  readonly noDelay: boolean | undefined;
  readonly keepAlive: boolean | undefined;
  readonly keepAliveInitialDelay: number | undefined;
}

/**
 * `plan` for one connection a client asked for, with the connection options the client passed
 * (Node's createConnection options, an undici connector's) merged in. Each one that decides where or
 * how to connect is honoured, or refused with a typed error; none is dropped: an SSRF guard or DNS
 * pin given as `lookup` runs exactly as under Node. Where the dialer's own options and the client's
 * name the same thing differently, socket-knobs does not choose between them: a typed error.
 */
function forRequest(plan: DialPlan, request: Record<string, unknown>, host: string, port: number, what: string): DialPlan {
  const name = (key: string): string => `${what}.${key}`;
  /** The client's value, unless absent; refused where the dialer already set a different one. */
  const merged = <T>(key: string, dialer: T | undefined, fromClient: T | undefined, dialerKey = key): T | undefined => {
    if (fromClient === undefined) return dialer;
    if (dialer !== undefined && dialer !== fromClient) {
      throw invalidValue(
        name(key),
        `differs from the dialer's options.${dialerKey}: socket-knobs will not choose between them (set it in one place)`,
        typeof fromClient === 'function' ? NOT_SHOWN : fromClient,
      );
    }
    return fromClient;
  };
  const present = (key: string): unknown => (request[key] === null ? undefined : request[key]);
  // A Unix socket or a tunnel through a socket that already exists is not a TCP connection dial() makes.
  if (typeof present('socketPath') === 'string') {
    throw invalidValue(name('socketPath'), 'asks for a Unix-domain socket; a dialer connects TCP only (use a plain agent for it)', present('socketPath'));
  }
  if (present('httpSocket') !== undefined) {
    throw invalidValue(name('httpSocket'), 'asks to run over a socket that already exists (a proxy tunnel); a dialer creates its own', NOT_SHOWN);
  }
  const lookup = present('lookup');
  if (lookup !== undefined && typeof lookup !== 'function') throw invalidType(name('lookup'), 'of type function', lookup);
  let family = present('family');
  if (family === 'IPv4') family = 4;
  else if (family === 'IPv6') family = 6;
  if (family !== undefined && family !== 0 && family !== 4 && family !== 6) throw invalidValue(name('family'), 'must be 0, 4 or 6', family);
  const hints = present('hints') === undefined || present('hints') === 0 ? undefined : validateInteger(present('hints'), name('hints'), 0, 2147483647);
  const localAddressGiven = present('localAddress');
  if (localAddressGiven !== undefined && (typeof localAddressGiven !== 'string' || netModule().isIP(localAddressGiven) === 0))
    throw invalidValue(name('localAddress'), 'must be an IP address literal', localAddressGiven);
  const localPort = present('localPort') === undefined ? undefined : validateInteger(present('localPort'), name('localPort'), 0, 65535);
  const auto = present('autoSelectFamily');
  if (auto !== undefined && typeof auto !== 'boolean') throw invalidType(name('autoSelectFamily'), 'of type boolean', auto);
  const attemptTimeout = present('autoSelectFamilyAttemptTimeout');
  const attemptDelay =
    // Node raises a value under 10 ms to 10.
    attemptTimeout === undefined ? undefined : Math.max(10, validateInteger(attemptTimeout, name('autoSelectFamilyAttemptTimeout'), 1, 2147483647));
  const timeout = present('timeout') === undefined ? undefined : validateInteger(present('timeout'), name('timeout'), 0, 2147483647);
  const noDelay = present('noDelay') === undefined ? undefined : validateBoolean(present('noDelay'), name('noDelay'));
  const keepAlive = present('keepAlive') === undefined ? undefined : validateBoolean(present('keepAlive'), name('keepAlive'));
  const keepAliveInitialDelay =
    present('keepAliveInitialDelay') === undefined
      ? undefined
      : validateInteger(present('keepAliveInitialDelay'), name('keepAliveInitialDelay'), 0, 2147483647);
  const familyMerged = merged('family', plan.family === 0 ? undefined : plan.family, family === 0 ? undefined : (family as 4 | 6 | undefined));
  return {
    ...plan,
    host,
    port: validateInteger(port, 'port', 1, 65535),
    lookup: merged('lookup', plan.lookup, lookup as DialOptions['lookup'] | undefined),
    family: familyMerged ?? 0,
    hints: merged('hints', plan.hints, hints),
    localAddress: merged('localAddress', plan.localAddress, localAddressGiven as string | undefined),
    localPort: merged('localPort', plan.localPort === 0 ? undefined : plan.localPort, localPort === 0 ? undefined : localPort) ?? 0,
    autoSelectFamily: auto ?? plan.autoSelectFamily,
    attemptDelay: attemptDelay ?? plan.attemptDelay,
    timeout: plan.timeout ?? timeout,
    socketOptions: { noDelay, keepAlive, keepAliveInitialDelay },
  };
}

interface AgentConnectOptions {
  host?: string;
  hostname?: string;
  port?: number | string;
  localAddress?: string;
  servername?: string;
  [key: string]: unknown;
}

/**
 * Makes an `http.Agent` or `https.Agent` open its connections with dial() (TLS kept for https:
 * `tls.connect({ ...the agent's options, socket })`), with the tuning kept through the agent's pool
 * as tuneAgent does. Returns the agent; a second call replaces the first.
 */
export function dialAgent<A extends object>(agent: A, options: DialerOptions): A {
  const plan = compileDialer(options);
  if (!isAgent(agent)) throw invalidType('agent', 'an instance of http.Agent or https.Agent', agent);
  const isHttps = (agent as { protocol?: unknown }).protocol === 'https:';
  const create = function dialedConnection(this: unknown, ...args: unknown[]): undefined {
    const connectOptions = (args[0] ?? {}) as AgentConnectOptions;
    const oncreate = args[args.length - 1] as (err: Error | null, socket?: net.Socket) => void;
    const host = connectOptions.host ?? connectOptions.hostname ?? 'localhost';
    const port = Number(connectOptions.port ?? (isHttps ? 443 : 80));
    let destination: DialPlan;
    try {
      destination = forRequest(plan, connectOptions, host, port, 'request');
    } catch (err) {
      // The request's own error, as Node reports a bad createConnection option: on the request.
      process.nextTick(oncreate, err);
      return undefined;
    }
    const started = Date.now();
    dialPlanned(destination).then(
      (socket) => {
        if (!isHttps) {
          oncreate(null, socket);
          return;
        }
        // The agent's own TLS options and the request's, over the dialed socket; the request sees
        // TLS errors on the socket as with a plain https.Agent.
        const tls = require('node:tls') as typeof import('node:tls');
        const servername = connectOptions.servername ?? (netModule().isIP(host) ? undefined : host);
        const secure = tls.connect({ ...(connectOptions as object), ...(servername ? { servername } : {}), socket });
        if (destination.connectTimeout !== undefined) {
          // connectTimeout covers the handshake too.
          const timer = setTimeout(
            () =>
              secure.destroy(
                syscallError(
                  os().constants.errno.ETIMEDOUT,
                  'connect',
                  { address: destination.host, port: destination.port },
                  undefined,
                  `no TLS session within ${destination.connectTimeout} ms (connectTimeout covers the lookup, the connection and the handshake)`,
                ),
              ),
            Math.max(0, destination.connectTimeout - (Date.now() - started)),
          );
          timer.unref();
          secure.once('secureConnect', () => clearTimeout(timer)).once('close', () => clearTimeout(timer));
        }
        oncreate(null, secure);
      },
      (err: Error) => oncreate(err),
    );
    return undefined;
  };
  setAgentCreate(agent, create);
  if (plan.late) setAgentTuning(agent, plan.late);
  return agent;
}

/**
 * TLS over a dialed socket, within what is left of the dial's connectTimeout (the deadline covers the
 * handshake too); `done` is called exactly once, as undici's connector contract requires (its
 * nodejs/undici/lib/core/connect.js makes its own callback one-shot): with the TLS socket once it is secure, or
 * with the first error, never again for an error after the handshake (the socket's own 'error'
 * listeners see that one).
 */
function secureOver(
  socket: net.Socket,
  options: import('node:tls').ConnectionOptions,
  plan: DialPlan,
  started: number,
  done: (err: Error | null, secure: import('node:tls').TLSSocket | null) => void,
): void {
  const tls = require('node:tls') as typeof import('node:tls');
  let called = false;
  let timer: NodeJS.Timeout | undefined;
  const once = (err: Error | null, secure: import('node:tls').TLSSocket | null): void => {
    if (called) return;
    called = true;
    if (timer) clearTimeout(timer);
    done(err, secure);
  };
  const secure = tls.connect({ ...options, socket });
  secure.once('secureConnect', () => once(null, secure));
  secure.on('error', (err) => {
    if (called) return;
    secure.destroy();
    once(typed(err, plan.host, plan.port), null);
  });
  if (plan.connectTimeout !== undefined) {
    const left = Math.max(0, plan.connectTimeout - (Date.now() - started));
    timer = setTimeout(() => {
      const err = syscallError(
        os().constants.errno.ETIMEDOUT,
        'connect',
        { address: plan.host, port: plan.port },
        undefined,
        `no TLS session within ${plan.connectTimeout} ms (connectTimeout covers the lookup, the connection and the handshake)`,
      );
      secure.destroy();
      once(err, null);
    }, left);
    timer.unref();
  }
}

/** undici's connect options, the part used here. */
interface UndiciConnectOptions {
  hostname: string;
  host?: string;
  protocol: string;
  port: string | number;
  servername?: string | null;
  localAddress?: string | null;
  /** A socket to run TLS over (undici's proxy tunnels): refused, a dialer creates its own. */
  httpSocket?: unknown;
}

export interface DialConnectorOptions extends DialerOptions {
  /** TLS options for https origins (ca, rejectUnauthorized, ...), passed to tls.connect with the dialed socket. */
  tls?: import('node:tls').ConnectionOptions;
}

/**
 * An undici-style connector whose sockets come from dial(): `new undici.Agent({ connect:
 * knobs.dialConnector({ synRetries: 2 }) })`, so pools, fetch and ws clients get pre-connect options
 * too. https origins are wrapped in TLS (ALPN http/1.1) with the `tls` options given. It can be
 * observed (observe(connector)).
 */
export function dialConnector(options: DialConnectorOptions = {}): Connector<UndiciConnectOptions> {
  const given = readOptions(options, 'options', [...DIAL_FIELDS, 'tls'] as const);
  const { tls: tlsOptions, ...rest } = given;
  if (tlsOptions !== undefined && (tlsOptions === null || typeof tlsOptions !== 'object')) throw invalidType('options.tls', 'of type object', tlsOptions);
  const plan = compileDialer(rest);
  const connector: Connector<UndiciConnectOptions> = (connectOptions, callback) => {
    let destination: DialPlan;
    try {
      const port = Number(connectOptions.port || (connectOptions.protocol === 'https:' ? 443 : 80));
      destination = forRequest(plan, connectOptions as unknown as Record<string, unknown>, connectOptions.hostname, port, 'connectOptions');
    } catch (err) {
      callback(err as Error, null);
      return;
    }
    const started = Date.now();
    dialPlanned(destination).then(
      (socket) => {
        if (connectOptions.protocol !== 'https:') {
          callback(null, socket);
          return;
        }
        const servername = connectOptions.servername || (netModule().isIP(connectOptions.hostname) ? undefined : connectOptions.hostname);
        secureOver(
          socket,
          { ALPNProtocols: ['http/1.1'], ...(tlsOptions as object), ...(servername ? { servername } : {}) },
          destination,
          started,
          (err, secure) => (err ? callback(err, null) : callback(null, secure!)),
        );
      },
      (err: Error) => callback(err, null),
    );
  };
  return wrapConnector(connector);
}
