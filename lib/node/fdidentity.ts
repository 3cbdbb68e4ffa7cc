/**
 * fd identity: a number is not a file. Between two moments a descriptor may be closed and its number
 * given to another file (a user's `control(fd)` that closed it, a socket handed to a child process):
 * nothing in socket-knobs acts on a number without checking it still names the file it named.
 * A file is named by its device and inode (`fstat`), as `ss`'s inode column names a socket.
 */
import fs = require('node:fs');
import { SocketStateError } from '../core/errors';
import { invalidValue, NOT_SHOWN } from '../core/validate';

/** The identity of the file `fd` names now, or null when it names none (closed: EBADF). */
export function fileIdentity(fd: number): string | null {
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

/** True when `fd` still names the file whose identity was `identity`. */
export function isSameFile(fd: number, identity: string | null): boolean {
  return identity !== null && fileIdentity(fd) === identity;
}

/**
 * Runs a user's `control(fd)` hook (Go's Dialer.Control): synchronously, on a socket that is still
 * the one it was given. A hook that returns a promise is refused (its options would land after
 * connect() or bind(), and its rejection would go unhandled): the promise's rejection is absorbed and
 * a typed error thrown instead. A hook that closed the fd, or replaced the file behind its number,
 * is ERR_SOCKET_FD_CHANGED: the caller must not close that number (it may be someone else's now).
 */
export function runControl(fd: number, control: (fd: number) => unknown, name: string): void {
  const identity = fileIdentity(fd);
  const result = control(fd);
  if (!isSameFile(fd, identity)) {
    throw Object.assign(
      new SocketStateError(
        'ERR_SOCKET_FD_CHANGED',
        `${name}(fd) closed the socket it was given (or put another file under its number): its fd is no longer this socket, so nothing more is done with it`,
      ),
      { fdChanged: true },
    );
  }
  if (result !== null && (typeof result === 'object' || typeof result === 'function')) {
    let then: unknown;
    try {
      then = (result as { then?: unknown }).then;
    } catch {
      then = undefined;
    }
    if (typeof then === 'function') {
      try {
        (then as (ok: unknown, fail: unknown) => unknown).call(result, undefined, () => {});
      } catch {
        // A thenable whose then() throws is refused all the same.
      }
      throw invalidValue(
        name,
        'returned a promise: it must be synchronous (it runs on the fd before bind() or connect(); an awaited setsockopt would land after the connection started, unchecked)',
        NOT_SHOWN,
      );
    }
  }
}

/** True for the error runControl throws when the fd no longer names the socket. */
export function fdChanged(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { fdChanged?: unknown }).fdChanged === true;
}
