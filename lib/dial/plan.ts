/**
 * dial()'s plan: every option validated, and resolved on this platform, before any socket exists
 * (compileDial); a dialer's options (compileDialer); and the connection options a client passes to
 * createConnection or a connector, merged in or refused (forRequest). No syscall here.
 */
import type dns = require('node:dns');
import { UnsupportedOptionError } from '../core/errors';
import { net as netModule } from '../core/builtins';
import { requireAddon, resolve, streamProtocol, type Resolved } from '../core/syscall';
import { setBeforeConnect, type OptionRow } from '../core/table';
import { checkMptcp } from '../options/mptcp';
import { validateTime, type Duration } from '../core/units';
import { NOT_SHOWN, invalidType, invalidValue, readOptions, sameSnapshot, validateBoolean, validateInteger } from '../core/validate';
import { subPlan, type Plan, type Tuning } from '../tuning/tuning';
import { planOf } from '../tuning/plan-cache';
import { refuseDeadPeerOnMptcp } from '../tuning/deadpeer';

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
  /** A Tuning: the fields whose phase ends before the SYN (SO_RCVBUF: the window scale) set before connect, the rest once connected. */
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
  /** isIP(host), found once: 4 or 6 for an address literal, 0 for a name to look up. */
  readonly hostFamily: 0 | 4 | 6;
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
  /** The tuning's fields set before the SYN (by the table's phase), and the rest, set once connected. */
  readonly early: Plan | undefined;
  readonly late: Plan | undefined;
  readonly control: ((fd: number) => void) | undefined;
}

type Given = Partial<Record<(typeof DIAL_FIELDS)[number], unknown>>;

/** Where to: host, port, the resolver and its family and hints, the local end. */
function planDestination(given: Given): Pick<DialPlan, 'host' | 'hostFamily' | 'port' | 'family' | 'hints' | 'lookup' | 'localAddress' | 'localPort'> {
  if (typeof given.host !== 'string' || given.host.length === 0 || given.host.length > 253)
    throw invalidType('options.host', 'a host name or IP address (a non-empty string)', given.host);
  const port = validateInteger(given.port, 'options.port', 1, 65535);
  const family = given.family === undefined ? 0 : given.family;
  if (family !== 0 && family !== 4 && family !== 6) throw invalidValue('options.family', 'must be 0, 4 or 6', family);
  const hints = given.hints === undefined ? undefined : validateInteger(given.hints, 'options.hints', 0, 2147483647);
  if (given.lookup !== undefined && typeof given.lookup !== 'function') throw invalidType('options.lookup', 'of type function', given.lookup);
  if (given.localAddress !== undefined && (typeof given.localAddress !== 'string' || netModule().isIP(given.localAddress) === 0))
    throw invalidValue('options.localAddress', 'must be an IP address literal', given.localAddress);
  const localPort = given.localPort === undefined ? 0 : validateInteger(given.localPort, 'options.localPort', 0, 65535);
  return {
    host: given.host,
    hostFamily: netModule().isIP(given.host) as 0 | 4 | 6,
    port,
    family,
    hints,
    lookup: given.lookup as DialOptions['lookup'],
    localAddress: given.localAddress as string | undefined,
    localPort,
  };
}

/** The times: the whole dial's deadline, the race's attempt delay, Node's idle timeout. */
function planTimes(given: Given): Pick<DialPlan, 'connectTimeout' | 'attemptDelay' | 'timeout'> {
  return {
    connectTimeout: given.connectTimeout === undefined ? undefined : validateTime(given.connectTimeout, 'options.connectTimeout', MS),
    attemptDelay:
      given.attemptDelay === undefined ? 250 : validateTime(given.attemptDelay, 'options.attemptDelay', { unit: 'milliseconds', min: 10, max: 2147483647 }),
    timeout: given.timeout === undefined ? undefined : validateTime(given.timeout, 'options.timeout', { unit: 'milliseconds', min: 0, max: 2147483647 }),
  };
}

const NOTHING_BEFORE: readonly (readonly [Resolved, number])[] = [];

/** The int options set on each attempt's socket before connect, each looked up here (UnsupportedOptionError elsewhere). */
function planBeforeConnect(given: Given, local: Pick<DialPlan, 'localAddress' | 'localPort'>): { beforeConnect: DialPlan['beforeConnect']; fastOpen: boolean } {
  const fastOpen = given.fastOpen === undefined ? false : validateBoolean(given.fastOpen, 'options.fastOpen');
  const bindNoPort = given.bindAddressNoPort === undefined ? false : validateBoolean(given.bindAddressNoPort, 'options.bindAddressNoPort');
  if (bindNoPort && (local.localAddress === undefined || local.localPort !== 0)) {
    throw invalidValue('options.bindAddressNoPort', 'needs a localAddress and no localPort (the port is chosen at connect)', NOT_SHOWN);
  }
  let syncount: [Resolved, number] | undefined;
  if (given.synRetries !== undefined) {
    const option = resolve('TCP_SYNCNT');
    syncount = [option, validateInteger(given.synRetries, 'options.synRetries', option.min, option.max, 'retries')];
  }
  // Built to size (a dial() compiles its options at every call; arrays grown by push() are
  // allocated 16 slots at a time).
  if (!fastOpen && !bindNoPort) return { beforeConnect: syncount ? [syncount] : NOTHING_BEFORE, fastOpen };
  const beforeConnect: [Resolved, number][] = syncount ? [syncount] : [];
  if (fastOpen) beforeConnect.push([resolve('TCP_FASTOPEN_CONNECT'), 1]);
  if (bindNoPort) beforeConnect.push([resolve('IP_BIND_ADDRESS_NO_PORT'), 1]);
  return { beforeConnect, fastOpen };
}

/** The tuning, split by each row's phase (the table's `when`): what must precede the SYN (the receive buffer: the window scale), and the rest, once connected. */
interface TuningSplit {
  readonly early: Plan | undefined;
  readonly late: Plan | undefined;
}
const NO_TUNING: TuningSplit = { early: undefined, late: undefined };
const setAfterConnect = (row: OptionRow): boolean => !setBeforeConnect(row);
// The last plan split (a plan of ours, cached by planOf while its tuning object holds), and its
// split: a client dialing with one tuning object splits it once. (A WeakMap of plans cost more than
// the split for a tuning written in each call: a fresh plan every time.)
let lastPlanned: Plan | undefined;
let lastSplit: TuningSplit = NO_TUNING;

/** The tuning's plan (compiled once per tuning object while its fields hold, as tune()'s), split into what is set before connect() and after. */
function planTuning(given: Given): TuningSplit {
  if (given.tuning === undefined) return NO_TUNING;
  const planned = planOf(given.tuning, 'options.tuning');
  if (planned !== lastPlanned) {
    lastSplit = split(planned);
    lastPlanned = planned;
  }
  return lastSplit;
}

/** `planned` split by phase; a plan wholly of one phase is that part as it is (a tuning written in each call: no copies). */
function split(planned: Plan): TuningSplit {
  let before = 0;
  for (const field of planned.fields) if (setBeforeConnect(field.option.row)) before++;
  if (before === 0) return { early: undefined, late: planned };
  if (before === planned.fields.length) return { early: planned, late: undefined };
  return { early: subPlan(planned, setBeforeConnect), late: subPlan(planned, setAfterConnect) };
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
  // The same fields with the same values as the last dial's (a client dialing one destination
  // with options written in the call): its plan, once the tuning's plan is the same too.
  // (The tuning's plan, once made here, is the one used below: its object is read once.)
  const last = lastDial;
  let split: TuningSplit | undefined;
  if (last !== undefined && sameSnapshot(given, last.given, 'tuning')) {
    split = planTuning(given);
    if (split.early === last.plan.early && split.late === last.plan.late) return last.plan;
  }
  const destination = planDestination(given);
  if (given.control !== undefined && typeof given.control !== 'function') throw invalidType('options.control', 'of type function', given.control);
  const times = planTimes(given);
  const mptcp = given.mptcp === undefined ? false : validateBoolean(given.mptcp, 'options.mptcp');
  const { beforeConnect, fastOpen } = planBeforeConnect(given, destination);
  const protocol = streamProtocol(mptcp);
  const { early, late } = split ?? planTuning(given);
  // Known before the first syscall: what an MPTCP socket refuses (probed once per process).
  if (mptcp) {
    refuseDeadPeerOnMptcp((early ?? late)?.tuning, 'dial()');
    checkMptcp([...beforeConnect.map(([option]) => option.row.name), ...(early?.fields.map((f) => f.option.row.name) ?? [])], 'dial()', 'unconnected');
    checkMptcp(late?.fields.map((f) => f.option.row.name) ?? [], 'dial()', 'connected');
  }
  // One literal, every field named (spreading the parts made each plan a fresh hidden class here:
  // ~16 µs and garbage per dial, measured).
  const plan: DialPlan = {
    host: destination.host,
    hostFamily: destination.hostFamily,
    port: destination.port,
    family: destination.family,
    hints: destination.hints,
    lookup: destination.lookup,
    localAddress: destination.localAddress,
    localPort: destination.localPort,
    connectTimeout: times.connectTimeout,
    attemptDelay: times.attemptDelay,
    timeout: times.timeout,
    autoSelectFamily: true,
    socketOptions: undefined,
    protocol,
    fastOpen,
    beforeConnect,
    early,
    late,
    control: given.control as DialPlan['control'],
  };
  lastDial = { given, plan };
  return plan;
}

// The last dial's options as read, and its plan (plans are never changed once made). Holds that
// one call's options (their lookup and control functions, their tuning object) until the next.
let lastDial: { readonly given: Given; readonly plan: DialPlan } | undefined;

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

/** What a client's connection options ask for, each validated (named `${what}.key` in errors). */
interface ClientAsks {
  readonly lookup: DialOptions['lookup'] | undefined;
  readonly family: 4 | 6 | undefined;
  readonly hints: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  readonly autoSelectFamily: boolean | undefined;
  readonly attemptDelay: number | undefined;
  readonly timeout: number | undefined;
  readonly socketOptions: SocketOptions;
}

/** An optional integer option of the client's, or undefined. */
function optionalInt(value: unknown, name: string, min: number): number | undefined {
  return value === undefined ? undefined : validateInteger(value, name, min, 2147483647);
}

/** Where and how to connect, as the client's options say: refused if the dialer cannot honour it. */
function readClientTarget(
  present: (key: string) => unknown,
  name: (key: string) => string,
): Pick<ClientAsks, 'lookup' | 'family' | 'hints' | 'localAddress' | 'localPort'> {
  // A Unix socket or a tunnel through a socket that already exists is not a TCP connection dial() makes.
  if (typeof present('socketPath') === 'string') {
    throw invalidValue(name('socketPath'), 'asks for a Unix-domain socket; a dialer connects TCP only (use a plain agent for it)', present('socketPath'));
  }
  if (present('httpSocket') !== undefined) {
    throw invalidValue(name('httpSocket'), 'asks to run over a socket that already exists (a proxy tunnel); a dialer creates its own', NOT_SHOWN);
  }
  const lookup = present('lookup');
  if (lookup !== undefined && typeof lookup !== 'function') throw invalidType(name('lookup'), 'of type function', lookup);
  const given = present('family');
  const family = given === 'IPv4' ? 4 : given === 'IPv6' ? 6 : given;
  if (family !== undefined && family !== 0 && family !== 4 && family !== 6) throw invalidValue(name('family'), 'must be 0, 4 or 6', family);
  const hints = present('hints') === 0 ? undefined : optionalInt(present('hints'), name('hints'), 0);
  const localAddress = present('localAddress');
  if (localAddress !== undefined && (typeof localAddress !== 'string' || netModule().isIP(localAddress) === 0))
    throw invalidValue(name('localAddress'), 'must be an IP address literal', localAddress);
  const localPort = present('localPort') === undefined ? undefined : validateInteger(present('localPort'), name('localPort'), 0, 65535);
  return {
    lookup: lookup as DialOptions['lookup'],
    family: family === 0 ? undefined : (family as 4 | 6 | undefined),
    hints,
    localAddress: localAddress as string | undefined,
    localPort,
  };
}

/** The client's race and socket settings (what net.connect() would do with them). */
function readClientSettings(
  present: (key: string) => unknown,
  name: (key: string) => string,
): Omit<ClientAsks, 'lookup' | 'family' | 'hints' | 'localAddress' | 'localPort'> {
  const auto = present('autoSelectFamily');
  if (auto !== undefined && typeof auto !== 'boolean') throw invalidType(name('autoSelectFamily'), 'of type boolean', auto);
  const attemptTimeout = optionalInt(present('autoSelectFamilyAttemptTimeout'), name('autoSelectFamilyAttemptTimeout'), 1);
  const bool = (key: string): boolean | undefined => (present(key) === undefined ? undefined : validateBoolean(present(key), name(key)));
  return {
    autoSelectFamily: auto,
    // Node raises a value under 10 ms to 10.
    attemptDelay: attemptTimeout === undefined ? undefined : Math.max(10, attemptTimeout),
    timeout: optionalInt(present('timeout'), name('timeout'), 0),
    socketOptions: {
      noDelay: bool('noDelay'),
      keepAlive: bool('keepAlive'),
      keepAliveInitialDelay: optionalInt(present('keepAliveInitialDelay'), name('keepAliveInitialDelay'), 0),
    },
  };
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
  const present = (key: string): unknown => (request[key] === null ? undefined : request[key]);
  /** The client's value, unless absent; refused where the dialer already set a different one. */
  const merged = <T>(key: string, dialer: T | undefined, fromClient: T | undefined): T | undefined => {
    if (fromClient === undefined) return dialer;
    if (dialer !== undefined && dialer !== fromClient) {
      throw invalidValue(
        name(key),
        `differs from the dialer's options.${key}: socket-knobs will not choose between them (set it in one place)`,
        typeof fromClient === 'function' ? NOT_SHOWN : fromClient,
      );
    }
    return fromClient;
  };
  const target = readClientTarget(present, name);
  const settings = readClientSettings(present, name);
  // Every field named (not `...plan`: see compileDial's return).
  return {
    connectTimeout: plan.connectTimeout,
    protocol: plan.protocol,
    fastOpen: plan.fastOpen,
    beforeConnect: plan.beforeConnect,
    early: plan.early,
    late: plan.late,
    control: plan.control,
    host,
    hostFamily: netModule().isIP(host) as 0 | 4 | 6,
    port: validateInteger(port, 'port', 1, 65535),
    lookup: merged('lookup', plan.lookup, target.lookup),
    family: merged('family', plan.family === 0 ? undefined : plan.family, target.family) ?? 0,
    hints: merged('hints', plan.hints, target.hints),
    localAddress: merged('localAddress', plan.localAddress, target.localAddress),
    localPort: merged('localPort', plan.localPort === 0 ? undefined : plan.localPort, target.localPort === 0 ? undefined : target.localPort) ?? 0,
    autoSelectFamily: settings.autoSelectFamily ?? plan.autoSelectFamily,
    attemptDelay: settings.attemptDelay ?? plan.attemptDelay,
    timeout: plan.timeout ?? settings.timeout,
    socketOptions: settings.socketOptions,
  };
}
