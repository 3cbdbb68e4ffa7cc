/**
 * dial()'s plan: every option validated, and resolved on this platform, before any socket exists
 * (compileDial); a dialer's options (compileDialer); and the connection options a client passes to
 * createConnection or a connector, merged in or refused (forRequest). No syscall here.
 */
import type dns = require('node:dns');
import { UnsupportedOptionError } from '../core/errors';
import { net as netModule } from '../core/builtins';
import { requireAddon, resolve, streamProtocol, type Resolved } from '../core/syscall';
import { checkMptcp } from '../options/mptcp';
import { validateTime, type Duration } from '../core/units';
import { NOT_SHOWN, invalidType, invalidValue, readOptions, validateBoolean, validateInteger } from '../core/validate';
import { compileTuning, subPlan, type Plan, type Tuning } from '../tuning/tuning';

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

export const DIAL_FIELDS = [
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

/** A dial, validated: everything checked, every option resolved on this platform, before any socket exists. */
export interface DialPlan {
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
export function compileDial(options: unknown): DialPlan {
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

/** The options of dialAgent() and dialConnector(): dial()'s, without the destination. */
export type DialerOptions = Omit<DialOptions, 'host' | 'port'>;

/** dial() options with a placeholder destination, for validating a dialer's options up front. */
export function compileDialer(options: unknown): DialPlan {
  if (options !== undefined && (options === null || typeof options !== 'object')) throw invalidType('options', 'of type object', options);
  const given = readOptions(options, 'options', DIAL_FIELDS);
  if (given.host !== undefined || given.port !== undefined) throw invalidValue('options', 'takes no host or port: each connection has its own', NOT_SHOWN);
  return compileDial({ ...given, host: 'localhost', port: 1 });
}

/** What net.connect() sets on a socket from its options, that dialAgent() sets the same way. */
export interface SocketOptions {
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
export function forRequest(plan: DialPlan, request: Record<string, unknown>, host: string, port: number, what: string): DialPlan {
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
