/**
 * Where a server's tuning field can live: on the listener (accepted sockets inherit it), on each
 * accepted socket, or nowhere (it does not apply to the server's address family). A pure function
 * of (row, address family, platform), from the option table's data: `inherited` per platform,
 * `listenerSafeOn`, `unixStream`. Every server path decides through it (tuneServer, tuneServers,
 * tune(server), listen({ tuning })), so a platform's behaviour is one fact, testable on Linux with
 * each platform as an argument.
 */
import type { OptionRow } from './table';

/** A listening socket's address family, as `server.address()` tells it. */
export type ListenerFamily = 'IPv4' | 'IPv6' | 'unix';

/** Where a field goes, and why when not on the listener. */
export type ListenerPlace =
  | { readonly place: 'listener' }
  | { readonly place: 'per-connection'; readonly reason: string }
  | { readonly place: 'not-applicable'; readonly reason: string };

const LISTENER: ListenerPlace = Object.freeze({ place: 'listener' });

/**
 * Where `row` must be set for every socket a listener of `family` accepts on `platform` to carry it.
 * `platform` is read when called (default `process.platform`), never cached at load.
 */
export function listenerPlace(row: OptionRow, family: ListenerFamily, platform: NodeJS.Platform = process.platform): ListenerPlace {
  if (family === 'unix') {
    if (row.unixStream !== true) {
      return {
        place: 'not-applicable',
        reason: `${row.name} is a TCP/IP option and this server listens on an AF_UNIX socket (a path), whose connections have no such setting`,
      };
    }
    return {
      place: 'per-connection',
      reason: `${row.name}: accepted AF_UNIX sockets inherit nothing from their listener (the kernel creates each one fresh)`,
    };
  }
  const measured = row.inherited?.[platform];
  if (measured === true) return LISTENER;
  if (measured === false) {
    return { place: 'per-connection', reason: `${row.name} is not inherited by the sockets a listener accepts (they start with the kernel's default)` };
  }
  if (row.listenerSafeOn !== undefined && !row.listenerSafeOn.includes(platform)) {
    return {
      place: 'per-connection',
      reason:
        `${row.name} is never set on a listening socket on ${platform}: there the kernel runs keepalive on the listener itself and ` +
        'closes it after idle + count x interval, so the server would stop accepting (libuv/libuv#2474); and accepted sockets do not inherit it (nginx/nginx#709)',
    };
  }
  return {
    place: 'per-connection',
    reason: `${row.name} is not known to be inherited by accepted sockets on ${platform} (inheritance is measured on Linux only)`,
  };
}

/** The family a listening server's socket has, or undefined while it is not listening. */
export function familyOfAddress(address: unknown): ListenerFamily | undefined {
  if (typeof address === 'string') return 'unix';
  if (address === null || typeof address !== 'object') return undefined;
  const family = (address as { family?: unknown }).family;
  return family === 'IPv6' || family === 'IPv4' ? family : undefined;
}
