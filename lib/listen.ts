/**
 * Listening sockets whose options are set before bind(). SO_REUSEADDR, SO_REUSEPORT and
 * IPV6_V6ONLY only matter (or, for V6ONLY on Linux, only work) before bind(), but
 * net.Server.listen() binds at once, and Node 20 has no `reusePort`. Here the addon creates the
 * socket (close-on-exec), socket-knobs applies the options, binds and listens, and Node serves the
 * fd through `server.listen({ fd })`.
 */
import type net = require('node:net');
import { net as netModule, netClasses } from './core/builtins';
import {
  applyQueued,
  bindSocket,
  closeSocket,
  constants,
  listenSocket,
  queue,
  requireAddon,
  resolve,
  socketError,
  streamProtocol,
  syscallError,
  tryOpenSocket,
  type Resolved,
} from './core/syscall';
import { checkValue, validateName, writeName } from './options/values';
import { SocketStateError, UnsupportedOptionError, errnoName } from './core/errors';
import { compileTuning, type Plan, type Tuning } from './tuning/tuning';
import { tuneServerPlanned } from './servers';
import { INT32_MAX, NOT_SHOWN, invalidType, invalidValue, readOptions, validateBoolean, validateInteger } from './core/validate';
import type { Duration } from './core/units';
import { fdChanged, runControl } from './node/fdidentity';
import { checkMptcp } from './options/mptcp';
import { refuseDeadPeerOnMptcp } from './tuning/deadpeer';
import { adoptedHandle } from './node/kinds';

export interface ListenOptions {
  /** Port to bind; 0 lets the kernel choose. */
  port: number;
  /** An IP address literal. Default `'::'` (dual-stack), or `'0.0.0.0'` where IPv6 is unavailable. */
  host?: string;
  /** listen() backlog, at least 1. Default 511, as Node; the kernel caps it at net.core.somaxconn. */
  backlog?: number;
  /** SO_REUSEADDR before bind. Default true, as Node's own servers. */
  reuseAddress?: boolean;
  /** SO_REUSEPORT before bind: several listeners share the port. Default false. */
  reusePort?: boolean;
  /** IPV6_V6ONLY before bind (IPv6 hosts only). Default false: also accept IPv4-mapped traffic. */
  ipv6Only?: boolean;
  /** IP_FREEBIND before bind (Linux): bind an address not (yet) configured here, IPv4 or IPv6. */
  freebind?: boolean;
  /** SO_BINDTODEVICE before bind (Linux): accept only connections that arrive on this interface. */
  bindToDevice?: string;
  /** TCP_DEFER_ACCEPT in seconds (Linux): wake accept() only once the client has sent data. */
  deferAccept?: Duration;
  /** TCP_FASTOPEN queue length: accept data in the SYN (needs net.ipv4.tcp_fastopen bit 2 on Linux). */
  fastOpen?: number;
  /** Multipath TCP (IPPROTO_MPTCP at socket creation; Linux 5.6+ with net.mptcp.enabled). */
  mptcp?: boolean;
  /** Called with the fd after its options are set and before bind() (Go's ListenConfig.Control). If it throws, the fd is closed and the error rethrown; do not keep the fd. */
  control?: (fd: number) => void;
  /** A Tuning: exactly listen() then tuneServer(server, tuning) (so a field the listener cannot hold still holds). listen() only. */
  tuning?: Tuning;
}

const LISTEN_FIELDS = [
  'port',
  'host',
  'backlog',
  'reuseAddress',
  'reusePort',
  'ipv6Only',
  'freebind',
  'bindToDevice',
  'deferAccept',
  'fastOpen',
  'mptcp',
  'control',
  'tuning',
] as const;

/** The domain and scope of an IP literal (the addon parses the address itself with inet_pton). */
function parseAddress(host: string): { host: string; domain: number; address: string; scopeId: number } {
  const percent = host.indexOf('%');
  const address = percent < 0 ? host : host.slice(0, percent);
  const scope = percent < 0 ? undefined : host.slice(percent + 1);
  const family = netModule().isIP(address);
  if (family === 0) throw invalidValue('options.host', 'must be an IP address literal (resolve host names first)', host);
  // A scope id is an interface index, a 32-bit unsigned number: never wrapped onto another one.
  if (scope !== undefined && (family !== 6 || !/^\d{1,10}$/.test(scope) || Number(scope) > 0xffffffff)) {
    throw invalidValue('options.host', 'may only carry a numeric IPv6 scope id up to 4294967295 (fe80::1%2)', host);
  }
  const domain = family === 4 ? constants.AF_INET : constants.AF_INET6;
  if (domain === undefined) throw new UnsupportedOptionError(family === 4 ? 'AF_INET' : 'AF_INET6');
  const scopeId = scope === undefined ? 0 : Number(scope);
  return { host: scope === undefined ? address : `${address}%${scopeId}`, domain, address, scopeId };
}

/**
 * Creates a listening TCP socket with its options set before bind(), and returns its fd, for
 * `server.listen({ fd })`. Failures are SyscallErrors with `syscall` 'socket', 'setsockopt',
 * 'bind' or 'listen'; the socket is closed on every failure path.
 */
export function createListeningSocket(options: ListenOptions): number {
  return openListener(readListenOptions(options, 'createListeningSocket')).fd;
}

type ListenSnapshot = Partial<Record<(typeof LISTEN_FIELDS)[number], unknown>>;

/** The options, read once (each getter called once: what is validated is what is used). */
function readListenOptions(options: unknown, what: 'listen' | 'createListeningSocket'): ListenSnapshot {
  requireAddon();
  if (process.platform === 'win32') {
    // Measured under wine with Node 20 and 22: server.listen({ fd }) throws ERR_INVALID_FD_TYPE, and
    // a SOCKET handle is no fd to Node. Refused before any socket exists.
    throw new UnsupportedOptionError(
      `${what}()`,
      'win32',
      'Node cannot adopt a socket from a descriptor on Windows (server.listen({ fd }) takes none there), so a listener with options set before bind() cannot be handed to it',
    );
  }
  if (options === undefined) throw invalidType('options', 'of type object', options);
  return readOptions(options, 'options', LISTEN_FIELDS);
}

type Address = ReturnType<typeof parseAddress>;
type IntSetting = readonly [Resolved, number];

/** A listener, planned: every option validated and resolved on this platform, before any socket exists. */
interface ListenerPlan {
  readonly port: number;
  readonly backlog: number;
  /** The address to bind, and the IPv4 one to fall back to where the host has no IPv6 (no host given). */
  readonly address: Address;
  readonly fallback: Address | undefined;
  readonly protocol: number;
  /**
   * Every int option, with its value; openPlanned sets each in its row's phase (the table's `when`):
   * `before bind` before bind(), every later phase between bind() and listen(). An IPv6 row
   * (IPV6_V6ONLY) only on an IPv6 socket.
   */
  readonly settings: readonly IntSetting[];
  /** SO_BINDTODEVICE (a name, not an int: its own call), before bind like its row says. */
  readonly device: readonly [Resolved, string] | undefined;
  readonly control: ((fd: number) => void) | undefined;
}

/** The host, port and backlog, and the addresses they mean. */
function planAddresses(given: ListenSnapshot): Pick<ListenerPlan, 'port' | 'backlog' | 'address' | 'fallback'> {
  const port = validateInteger(given.port, 'options.port', 0, 65535);
  if (given.host !== undefined && typeof given.host !== 'string') throw invalidType('options.host', 'of type string', given.host);
  // At least 1: Node treats a backlog of 0 as "use 511". The kernel caps it at net.core.somaxconn.
  const backlog = given.backlog === undefined ? 511 : validateInteger(given.backlog, 'options.backlog', 1, INT32_MAX);
  if (given.host !== undefined) return { port, backlog, address: parseAddress(given.host as string), fallback: undefined };
  return { port, backlog, address: parseAddress('::'), fallback: parseAddress('0.0.0.0') };
}

/** The int options, each looked up on this platform and validated; the order of the batch is the table's phase, not this list's. */
function planSettings(given: ListenSnapshot, address: Address): IntSetting[] {
  const reuseAddress = given.reuseAddress === undefined ? true : validateBoolean(given.reuseAddress, 'options.reuseAddress');
  const reusePort = given.reusePort === undefined ? false : validateBoolean(given.reusePort, 'options.reusePort');
  const ipv6Only = given.ipv6Only === undefined ? undefined : validateBoolean(given.ipv6Only, 'options.ipv6Only');
  if (ipv6Only !== undefined && address.domain !== constants.AF_INET6) throw invalidValue('options.ipv6Only', 'applies only to an IPv6 host', ipv6Only);
  const settings: IntSetting[] = [[resolve('SO_REUSEADDR'), reuseAddress ? 1 : 0]];
  if (reusePort) settings.push([resolve('SO_REUSEPORT'), 1]);
  // Always set on an IPv6 socket: off unless asked (dual-stack), whatever the sysctl's default.
  if (address.domain === constants.AF_INET6) settings.push([resolve('IPV6_V6ONLY'), ipv6Only ? 1 : 0]);
  // IP_FREEBIND on an IPv6 socket too: Linux keeps one bit for both (IPV6_FREEBIND is an alias).
  if (given.freebind !== undefined) settings.push([resolve('IP_FREEBIND'), validateBoolean(given.freebind, 'options.freebind') ? 1 : 0]);
  for (const [field, name] of [
    ['deferAccept', 'TCP_DEFER_ACCEPT'],
    ['fastOpen', 'TCP_FASTOPEN'],
  ] as const) {
    if (given[field] === undefined) continue;
    const option = resolve(name);
    settings.push([option, checkValue(option, given[field], `options.${field}`)]);
  }
  return settings;
}

/** SO_BINDTODEVICE's interface name, validated. */
function planDevice(given: ListenSnapshot): ListenerPlan['device'] {
  if (given.bindToDevice === undefined) return undefined;
  const option = resolve('SO_BINDTODEVICE');
  const name = validateName(option, given.bindToDevice, 'options.bindToDevice');
  if (name === '') throw invalidValue('options.bindToDevice', 'must name an interface', name);
  return [option, name];
}

/** Validates every option and resolves it here; throws before any socket exists. */
function planListener(given: ListenSnapshot, withTuning = false): ListenerPlan {
  const addresses = planAddresses(given);
  const settings = planSettings(given, addresses.address);
  const device = planDevice(given);
  if (constants.SOCK_STREAM === undefined) throw new UnsupportedOptionError('SOCK_STREAM');
  const protocol = streamProtocol(given.mptcp === undefined ? false : validateBoolean(given.mptcp, 'options.mptcp'));
  if (given.control !== undefined && typeof given.control !== 'function') throw invalidType('options.control', 'of type function', given.control);
  if (given.tuning !== undefined && !withTuning)
    throw invalidValue('options.tuning', 'is for listen(): createListeningSocket() returns an fd, with no server to tune', NOT_SHOWN);
  return { ...addresses, settings, device, protocol, control: given.control as ListenerPlan['control'] };
}

/** Sets, in one crossing, the `settings` whose phase is (`beforeBind`) or is not `before bind` and that apply to a socket of `domain`. */
function applyPhase(fd: number, settings: readonly IntSetting[], beforeBind: boolean, domain: number): void {
  let count = 0;
  for (const [option, value] of settings) {
    if ((option.row.when === 'before bind') !== beforeBind) continue;
    if (option.row.sockets === 'ipv6' && domain !== constants.AF_INET6) continue;
    queue(count++, option, value);
  }
  if (count > 0) applyQueued(fd, count);
}

/** The planned listener's syscalls: socket(), the options, bind(), listen(); the socket is closed on every failure. */
function openPlanned(plan: ListenerPlan): { fd: number; backlog: number } {
  let target = plan.address;
  let fd = tryOpenSocket(target.domain, constants.SOCK_STREAM!, plan.protocol);
  if (fd < 0 && plan.fallback && errnoName(-fd) === 'EAFNOSUPPORT') {
    target = plan.fallback; // no IPv6 on this host: Node falls back to 0.0.0.0 the same way
    fd = tryOpenSocket(target.domain, constants.SOCK_STREAM!, plan.protocol);
  }
  if (fd < 0) throw socketError(-fd, plan.protocol);
  try {
    applyPhase(fd, plan.settings, true, target.domain);
    if (plan.device) writeName(fd, plan.device[0], plan.device[1]);
    if (plan.control) runControl(fd, plan.control, 'options.control');
    bindSocket(fd, target.domain, target.address, plan.port, target.scopeId, target.host);
    applyPhase(fd, plan.settings, false, target.domain);
    listenSocket(fd, plan.backlog, target.host, plan.port);
    return { fd, backlog: plan.backlog };
  } catch (error) {
    // Never close a number control(fd) closed: it may already be another file's.
    if (!fdChanged(error)) closeSocket(fd);
    throw error;
  }
}

/** createListeningSocket's work; also returns the validated backlog, for server.listen(). */
function openListener(given: ListenSnapshot, withTuning = false): { fd: number; backlog: number } {
  return openPlanned(planListener(given, withTuning));
}

/** Servers with a listen() under way: a second call on the same server (even from a getter of the
 * first call's options) is refused instead of racing it. */
const starting = new WeakSet<net.Server>();

/**
 * Makes `server` listen on a socket whose options were set before bind() (see
 * createListeningSocket). Resolves with the server once it is listening. On Node 20 this is the
 * way to get SO_REUSEPORT; on every Node it is the way to get IPV6_V6ONLY or SO_REUSEADDR off.
 *
 * The fd is handed to Node as a handle (`server.listen(socket)`), not as `{ fd }`: in a cluster
 * worker Node routes `{ fd }` to the primary, which does not own that fd (EEXIST, or worse, serves
 * whatever the primary holds under that number), while a handle is listened on in the worker
 * itself. With `reusePort` every worker owns its socket and the kernel spreads connections.
 *
 * Every failure after the socket exists closes it: a rejected listen() leaves nothing listening.
 * If the server is closed before it starts listening, the promise rejects with ERR_SOCKET_CLOSED.
 */
export function listen(server: net.Server, options: ListenOptions): Promise<net.Server> {
  let listener: { fd: number; backlog: number };
  let plan: Plan | undefined;
  try {
    requireIdleServer(server);
    if (starting.has(server)) throw invalidValue('server', 'already has a listen() under way', 'a net.Server');
    starting.add(server);
    try {
      // The tuning is validated with everything else, before any socket exists.
      const given = readListenOptions(options, 'listen');
      if (given.tuning !== undefined) {
        const compiled = compileTuning(given.tuning, 'options.tuning');
        // What an MPTCP socket refuses is known before the first syscall (probed once per process).
        if (given.mptcp === true) refuseDeadPeerOnMptcp(compiled.tuning, 'listen()');
        if (given.mptcp === true)
          checkMptcp(
            compiled.fields.map((f) => f.option.row.name),
            'listen()',
            'connected',
          );
        plan = compiled;
      }
      listener = openListener(given, true);
    } catch (err) {
      starting.delete(server);
      throw err;
    }
    try {
      // A getter of `options` may have made the server listen (by other means) meanwhile.
      requireIdleServer(server);
    } catch (err) {
      starting.delete(server);
      closeSocket(listener.fd);
      throw err;
    }
  } catch (err) {
    return Promise.reject(err);
  }
  if (plan === undefined) return serve(server, listener);
  const tuning = plan;
  // Exactly listen() then tuneServer(): a refusal of the listener's tuning closes the server and
  // rejects, as every other failure here leaves nothing listening.
  return serve(server, listener).then(async (listening) => {
    try {
      await tuneServerPlanned(listening, tuning).ready;
      return listening;
    } catch (err) {
      await new Promise((resolveClose) => listening.close(resolveClose));
      throw err;
    }
  });
}

/** Throws unless `server` is a net.Server that is not listening (a listen() under way is checked by the caller). */
function requireIdleServer(server: net.Server): void {
  let isServer: boolean;
  let listening: boolean;
  try {
    isServer = server instanceof netClasses().Server;
    listening = isServer && server.listening;
  } catch {
    throw invalidValue('server', 'could not be inspected (a Proxy trap or getter threw)', NOT_SHOWN);
  }
  if (!isServer) throw invalidType('server', 'an instance of net.Server', server);
  if (listening) throw invalidValue('server', 'is already listening', 'a listening net.Server');
}

/** Hands the listening fd to `server` and settles when Node reports the outcome. */
function serve(server: net.Server, listener: { fd: number; backlog: number }): Promise<net.Server> {
  let handle: { close(): void } | undefined;
  return new Promise<net.Server>((resolvePromise, reject) => {
    const settle = (err?: Error): void => {
      starting.delete(server);
      server.removeListener('listening', onListening);
      server.removeListener('error', onError);
      server.removeListener('close', onClose);
      if (!err) {
        resolvePromise(server);
        return;
      }
      // Close what this call opened. HandleWrap.close() does nothing on a handle Node already
      // closed, so the fd is closed exactly once and never after its number was reused.
      if (handle) handle.close();
      else closeSocket(listener.fd);
      reject(err);
    };
    const onListening = (): void => settle();
    const onError = (err: Error & { errno?: unknown; syscall?: unknown }): void =>
      // Node's system errors are given socket-knobs' type, like every other failure here.
      settle(typeof err.errno === 'number' ? syscallError(err.errno, typeof err.syscall === 'string' ? err.syscall : 'listen') : err);
    const onClose = (): void => settle(new SocketStateError('ERR_SOCKET_CLOSED', 'The server was closed before it started listening; its socket is closed'));
    try {
      // A net.Socket wraps the fd in Node's own TCP handle; neither side of it is ever read or
      // written: the server takes the handle.
      const wrapper = new (netModule().Socket)({ fd: listener.fd, readable: false, writable: false });
      handle = adoptedHandle(wrapper);
      server.once('listening', onListening);
      server.once('error', onError);
      server.once('close', onClose);
      // Node calls listen() on the handle again with this backlog (511 unless it is given ours).
      server.listen(wrapper, listener.backlog);
    } catch (err) {
      settle(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
