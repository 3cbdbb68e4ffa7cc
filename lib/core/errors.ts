/**
 * Typed errors, in Node's own conventions: a string `code` (`'EINVAL'`, `'ERR_INVALID_ARG_TYPE'`),
 * a negative `errno` for kernel errors, `syscall`. Every error socket-knobs throws is an instance of
 * `SocketOptionError`. They hold only strings and numbers (never the socket), so they log and
 * serialize safely: `JSON.stringify(err)` shows every field.
 */
import { getSystemErrorMap, inspect } from 'node:util';
import { os } from './builtins';

/** The longest text an error keeps from its input (a name, a key, an address). */
const MAX_SHOWN = 64;
/** The longest message: with every part bounded it stays far below this; the cap is a backstop. */
const MAX_MESSAGE = 600;

/**
 * `text` cut to `max` characters: an error never grows with its input (a 1 MiB option name or
 * unknown key gives an error of a few hundred bytes), so logging it is always cheap.
 */
export function bounded(text: string, max = MAX_SHOWN): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/** A level, option or value as an error shows it: numbers as they are, strings bounded. */
function shown<T extends string | number | undefined>(value: T): T {
  return (typeof value === 'string' ? bounded(value) : value) as T;
}

/** Base class of every error socket-knobs throws. */
export class SocketOptionError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(bounded(message, MAX_MESSAGE));
    this.code = code;
    // Make `name` an own, non-enumerable property so `${err}` reads "InvalidArgumentError [CODE]: ...".
    Object.defineProperty(this, 'name', { value: new.target.name, enumerable: false, configurable: true, writable: true });
  }

  override toString(): string {
    return `${this.name} [${this.code}]: ${this.message}`;
  }

  /** Plain fields only, so `JSON.stringify(err)` includes the message and code. */
  toJSON(): Record<string, unknown> {
    return { ...(this as object), name: this.name, message: this.message };
  }
}

/** A bad argument, caught before any syscall: nothing was changed. */
export class InvalidArgumentError extends SocketOptionError {
  /** The name of the argument (or option field) that was refused, e.g. `'idle'`. */
  readonly argument: string;

  constructor(code: 'ERR_INVALID_ARG_TYPE' | 'ERR_OUT_OF_RANGE' | 'ERR_INVALID_ARG_VALUE', argument: string, message: string) {
    super(code, message);
    this.argument = bounded(argument);
  }
}

/** The option or level is not defined on this platform (its headers lack it): nothing was changed. */
export class UnsupportedOptionError extends SocketOptionError {
  readonly option: string;
  readonly platform: string;

  constructor(option: string, platform: string = process.platform, reason?: string) {
    option = bounded(option);
    super(
      'ERR_SOCKET_OPTION_UNSUPPORTED',
      `${option} is not defined on this platform (${platform})` + (reason ? `: ${reason}` : ': see isSupported() and the platform table in the README'),
    );
    this.option = option;
    this.platform = platform;
  }
}

/** What a SyscallError says about the call that failed; every field is optional. */
export interface SyscallDetails {
  level?: string | number;
  option?: string | number;
  value?: number | string;
  applied?: string[];
  address?: string;
  port?: number;
}

/** The kernel refused the call. */
export class SyscallError extends SocketOptionError {
  /** Negative, as in Node's own system errors (`-22` for EINVAL on Linux). */
  readonly errno: number;
  /** `'setsockopt'`, `'getsockopt'`, or for listening sockets `'socket'`, `'bind'`, `'listen'`. */
  readonly syscall: string;
  /** The option's name where it is known, else its number. */
  declare readonly option?: string | number;
  /** The level's name where it is known, else its number. */
  declare readonly level?: string | number;
  /** The value that was being set (a Buffer's bytes are summarised, not copied). */
  declare readonly value?: number | string;
  /** For calls that set several options: the ones that were applied before the kernel refused. */
  declare readonly applied?: string[];
  // Optional fields are `declare`d so that an error only has the ones that apply (no own
  // properties set to undefined): what you see in JSON and in util.inspect is what happened.
  /** For bind: the address and port, as in Node's own EADDRINUSE errors. */
  declare readonly address?: string;
  declare readonly port?: number;

  constructor(errno: number, syscall: string, details: SyscallDetails = {}, reason?: string) {
    const [errnoName, text] = describeErrno(errno);
    // Node's dns module names a name that does not resolve ENOTFOUND, whatever getaddrinfo said.
    const name = syscall === 'getaddrinfo' && (errnoName === 'EAI_NONAME' || errnoName === 'EAI_NODATA') ? 'ENOTFOUND' : errnoName;
    const level = shown(details.level);
    const option = shown(details.option);
    const value = shown(details.value);
    const address = shown(details.address);
    let what = '';
    if (option !== undefined) {
      // C's order and the names (or numbers) as given: setsockopt(IPPROTO_TCP, TCP_KEEPCNT, 200).
      const args = [level, option, value].filter((part) => part !== undefined);
      what = `(${args.join(', ')})`;
    } else if (address !== undefined) {
      what = address.includes(':') ? ` [${address}]:${details.port}` : ` ${address}:${details.port}`;
    }
    let message = `${syscall}${what} failed: ${name} (${text})`;
    if (reason) message += `: ${reason}`;
    if (details.applied && details.applied.length > 0) message += `; already applied: ${details.applied.join(', ')}`;
    else if (details.applied) message += '; nothing was applied';
    super(name, message);
    this.errno = nodeErrno(errno);
    this.syscall = syscall;
    const fields = { level, option, value, applied: details.applied, address, port: details.port };
    for (const key of ['level', 'option', 'value', 'applied', 'address', 'port'] as const) {
      if (fields[key] !== undefined) (this as Record<string, unknown>)[key] = fields[key];
    }
  }
}

/** The target has no file descriptor to act on. */
export class SocketStateError extends SocketOptionError {
  constructor(
    code: 'ERR_SOCKET_NO_FD' | 'ERR_SOCKET_CLOSED' | 'ERR_SOCKET_FD_CHANGED' | 'ERR_SOCKET_KNOBS_STOPPED' | 'ERR_SOCKET_KNOBS_REPLACED',
    message: string,
  ) {
    super(code, message);
  }
}

let errnoMap: Map<number, [string, string]> | undefined;

/** The name of a positive (or negative) errno, as Node names it: `'EINVAL'`. */
export function errnoName(errno: number): string {
  return describeErrno(errno)[0];
}

/**
 * Winsock's error codes (winerror.h) and the names Node gives the same conditions. On Windows the
 * addon reports WSAGetLastError(); Node's own socket errors there carry these names (libuv
 * translates them), so ours do too: WSAEADDRINUSE (10048) is EADDRINUSE. The two Node has no name
 * for keep Winsock's.
 */
const WINSOCK_NAMES: Readonly<Record<number, string>> = {
  10004: 'EINTR',
  10009: 'EBADF',
  10013: 'EACCES',
  10014: 'EFAULT',
  10022: 'EINVAL',
  10024: 'EMFILE',
  10035: 'EAGAIN',
  10036: 'WSAEINPROGRESS', // no libuv (so no Node) name: Winsock's own
  10037: 'EALREADY',
  10038: 'ENOTSOCK',
  10040: 'EMSGSIZE',
  10041: 'EPROTOTYPE',
  10042: 'ENOPROTOOPT',
  10043: 'EPROTONOSUPPORT',
  10044: 'ESOCKTNOSUPPORT',
  10045: 'EOPNOTSUPP',
  10046: 'EAFNOSUPPORT',
  10047: 'EAFNOSUPPORT',
  10048: 'EADDRINUSE',
  10049: 'EADDRNOTAVAIL',
  10050: 'ENETDOWN',
  10051: 'ENETUNREACH',
  10052: 'WSAENETRESET', // no libuv (so no Node) name: Winsock's own
  10053: 'ECONNABORTED',
  10054: 'ECONNRESET',
  10055: 'ENOBUFS',
  10056: 'EISCONN',
  10057: 'ENOTCONN',
  10058: 'ESHUTDOWN',
  10060: 'ETIMEDOUT',
  10061: 'ECONNREFUSED',
  10063: 'ENAMETOOLONG',
  10064: 'EHOSTDOWN',
  10065: 'EHOSTUNREACH',
};

/** The name Node gives a Winsock error code, or undefined for a code that is not one. */
export function winsockErrorName(code: number): string | undefined {
  return WINSOCK_NAMES[Math.abs(code)];
}

/** Node's errno for a name (a negative number; on Windows libuv's), or undefined. */
function errnoOfName(name: string): number | undefined {
  errnoMap ??= getSystemErrorMap();
  for (const [errno, [known]] of errnoMap) if (known === name) return errno;
  return undefined;
}

/** The errno a SyscallError carries, as Node's own errors would: negative; a Winsock code as Node's number for its name. */
function nodeErrno(errno: number): number {
  const winsock = process.platform === 'win32' ? winsockErrorName(errno) : undefined;
  return (winsock === undefined ? undefined : errnoOfName(winsock)) ?? -Math.abs(errno);
}

/** [name, message] of a positive errno, as Node names it: [ 'EINVAL', 'invalid argument' ]. */
function describeErrno(errno: number): [string, string] {
  // Linux gives EOPNOTSUPP and ENOTSUP one number; Node names it ENOTSUP, but for a socket the
  // kernel means EOPNOTSUPP ("operation not supported on socket"), the name setsockopt(2) users know.
  if (Math.abs(errno) === os().constants.errno.EOPNOTSUPP) return ['EOPNOTSUPP', 'operation not supported on socket'];
  errnoMap ??= getSystemErrorMap();
  const winsock = process.platform === 'win32' ? winsockErrorName(errno) : undefined;
  if (winsock) {
    if (winsock === 'EOPNOTSUPP') return ['EOPNOTSUPP', 'operation not supported on socket'];
    const known = errnoOfName(winsock);
    return [winsock, known === undefined ? `Winsock error ${Math.abs(errno)}` : errnoMap.get(known)![1]];
  }
  return errnoMap.get(-Math.abs(errno)) ?? [`E${Math.abs(errno)}`, `unknown error ${Math.abs(errno)}`];
}

/** Node's style for a received value in an error message: `Received type string ('60')`. */
export function describeReceived(value: unknown): string {
  try {
    if (value === null || value === undefined) return `Received ${value}`;
    if (typeof value === 'function') return `Received function ${bounded(String(value.name) || '<anonymous>')}`;
    if (typeof value === 'object') {
      const ctor = (value as { constructor?: { name?: unknown } }).constructor;
      const name = ctor && typeof ctor.name === 'string' ? ctor.name : '';
      return name ? `Received an instance of ${bounded(name)}` : `Received ${bounded(inspect(value, { depth: -1 }))}`;
    }
    let shown = inspect(value, { breakLength: Infinity });
    if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
    if (typeof value === 'number' || typeof value === 'bigint') return `Received ${shown}`;
    return `Received type ${typeof value} (${shown})`;
  } catch {
    // A Proxy or a hostile getter: describe nothing rather than let its error escape.
    return 'Received an object that could not be inspected';
  }
}

/**
 * A process warning from socket-knobs (type `SocketKnobsWarning`): for what cannot be thrown to the
 * caller any more and has no listener to go to. Sent as text, which every realm accepts.
 */
export function warn(what: unknown, code: string): void {
  let text: string;
  try {
    text = String(what);
  } catch {
    text = 'an error that could not be printed';
  }
  process.emitWarning(bounded(text, 1000), { type: 'SocketKnobsWarning', code });
}
