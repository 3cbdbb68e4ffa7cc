/**
 * Listening sockets whose options are set before bind(). SO_REUSEADDR, SO_REUSEPORT and
 * IPV6_V6ONLY only matter (or, for V6ONLY on Linux, only work) before bind(), but
 * net.Server.listen() binds at once, and Node 20 has no `reusePort`. Here the addon creates the
 * socket (close-on-exec), socket-knobs applies the options, binds and listens, and Node serves the
 * fd through `server.listen({ fd })`.
 */
import net = require('node:net');
import os = require('node:os');
import { native } from './native';
import { applyQueued, constants, queue, resolve } from './core';
import { SyscallError, UnsupportedOptionError } from './errors';
import { INT32_MAX, invalidType, invalidValue, readOptions, validateBoolean, validateInteger } from './validate';

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
}

const LISTEN_FIELDS = ['port', 'host', 'backlog', 'reuseAddress', 'reusePort', 'ipv6Only'] as const;

/** The domain and scope of an IP literal (the addon parses the address itself with inet_pton). */
function parseAddress(host: string): { host: string; domain: number; address: string; scopeId: number } {
  const [address, scope] = host.split('%') as [string, string?];
  const family = net.isIP(address);
  if (family === 0) throw invalidValue('options.host', 'must be an IP address literal (resolve host names first)', host);
  if (scope !== undefined && (family !== 6 || !/^\d+$/.test(scope))) {
    throw invalidValue('options.host', 'may only carry a numeric IPv6 scope id (fe80::1%2)', host);
  }
  const domain = family === 4 ? constants.AF_INET : constants.AF_INET6;
  if (domain === undefined) throw new UnsupportedOptionError(family === 4 ? 'AF_INET' : 'AF_INET6');
  return { host, domain, address, scopeId: scope === undefined ? 0 : Number(scope) };
}

/**
 * Creates a listening TCP socket with its options set before bind(), and returns its fd, for
 * `server.listen({ fd })`. Failures are SyscallErrors with `syscall` 'socket', 'setsockopt',
 * 'bind' or 'listen'; the socket is closed on every failure path.
 */
export function createListeningSocket(options: ListenOptions): number {
  return openListener(options).fd;
}

/** createListeningSocket's work; also returns the validated backlog, for server.listen(). */
function openListener(options: ListenOptions): { fd: number; backlog: number } {
  if (options === undefined) throw invalidType('options', 'of type object', options);
  const given = readOptions(options, 'options', LISTEN_FIELDS);
  const port = validateInteger(given.port, 'options.port', 0, 65535);
  if (given.host !== undefined && typeof given.host !== 'string') throw invalidType('options.host', 'of type string', given.host);
  // At least 1: Node treats a backlog of 0 as "use 511". The kernel caps it at net.core.somaxconn.
  const backlog = given.backlog === undefined ? 511 : validateInteger(given.backlog, 'options.backlog', 1, INT32_MAX);
  const reuseAddress = given.reuseAddress === undefined ? true : validateBoolean(given.reuseAddress, 'options.reuseAddress');
  const reusePort = given.reusePort === undefined ? false : validateBoolean(given.reusePort, 'options.reusePort');
  const ipv6Only = given.ipv6Only === undefined ? undefined : validateBoolean(given.ipv6Only, 'options.ipv6Only');
  const hosts = given.host !== undefined ? [given.host as string] : ['::', '0.0.0.0'];
  const addresses = hosts.map(parseAddress);
  if (ipv6Only !== undefined && addresses[0]!.domain !== constants.AF_INET6) {
    throw invalidValue('options.ipv6Only', 'applies only to an IPv6 host', ipv6Only);
  }
  // Every option must exist here before the socket is created.
  const reuseAddr = resolve('SO_REUSEADDR');
  const reusePortOption = reusePort ? resolve('SO_REUSEPORT') : undefined;
  const v6only = addresses[0]!.domain === constants.AF_INET6 ? resolve('IPV6_V6ONLY') : undefined;
  if (constants.SOCK_STREAM === undefined) throw new UnsupportedOptionError('SOCK_STREAM');

  let target = addresses[0]!;
  let fd = native.openSocket(target.domain, constants.SOCK_STREAM);
  if (fd < 0 && given.host === undefined && -fd === os.constants.errno.EAFNOSUPPORT) {
    target = addresses[1]!; // no IPv6 on this host: Node falls back to 0.0.0.0 the same way
    fd = native.openSocket(target.domain, constants.SOCK_STREAM);
  }
  if (fd < 0) throw new SyscallError(-fd, 'socket');
  try {
    let count = 0;
    queue(count++, reuseAddr, reuseAddress ? 1 : 0);
    if (reusePortOption) queue(count++, reusePortOption, 1);
    if (v6only && target.domain === constants.AF_INET6) queue(count++, v6only, ipv6Only ? 1 : 0);
    applyQueued(fd, count);
    let err = native.bindSocket(fd, target.domain, target.address, port, target.scopeId);
    if (err !== 0) throw new SyscallError(err, 'bind', { address: target.host, port });
    err = native.listenSocket(fd, backlog);
    if (err !== 0) throw new SyscallError(err, 'listen', { address: target.host, port });
    return { fd, backlog };
  } catch (error) {
    native.closeSocket(fd);
    throw error;
  }
}

/**
 * Makes `server` listen on a socket whose options were set before bind() (see
 * createListeningSocket). Resolves with the server once it is listening. On Node 20 this is the
 * way to get SO_REUSEPORT; on every Node it is the way to get IPV6_V6ONLY or SO_REUSEADDR off.
 */
export function listen(server: net.Server, options: ListenOptions): Promise<net.Server> {
  let listener: { fd: number; backlog: number };
  try {
    let isServer: boolean;
    let listening: boolean;
    try {
      isServer = server instanceof net.Server;
      listening = isServer && server.listening;
    } catch {
      throw invalidValue('server', 'could not be inspected (a Proxy trap or getter threw)', undefined);
    }
    if (!isServer) throw invalidType('server', 'an instance of net.Server', server);
    if (listening) throw invalidValue('server', 'is already listening', 'a listening net.Server');
    listener = openListener(options);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolvePromise, reject) => {
    const onError = (err: Error & { errno?: unknown; syscall?: unknown }): void => {
      server.removeListener('listening', onListening);
      // Node owns the fd once it has wrapped it, and closes it on this path itself. Its system
      // errors are given socket-knobs' type, like every other failure here.
      reject(typeof err.errno === 'number' ? new SyscallError(err.errno, typeof err.syscall === 'string' ? err.syscall : 'listen') : err);
    };
    const onListening = (): void => {
      server.removeListener('error', onError);
      resolvePromise(server);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // Node calls listen() on the fd again, with 511 unless it is given ours; for an fd it only
    // reads the backlog from the second argument (not from the options object).
    server.listen({ fd: listener.fd }, listener.backlog);
  });
}
