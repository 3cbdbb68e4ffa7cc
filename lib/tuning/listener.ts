/**
 * Where a tuning's fields can hold on a server's accepted sockets: what the option table says is not
 * inherited on this platform or address family (lib/core/inheritance.ts), and what Node itself sets
 * on each accepted socket or session. tuneServer() sets such fields per connection; tune(server)
 * refuses them.
 */
import type net = require('node:net');
import type { TuningPath } from '../core/table';
import { listenerPlace } from '../core/inheritance';
import { serverFamily } from '../node/kinds';
import { NOT_SHOWN, invalidValue } from '../core/validate';
import type { Plan } from './tuning';

/** A field of a plan that a listener cannot hold for the sockets it accepts, and why. */
export interface ListenerConflict {
  readonly path: TuningPath;
  readonly reason: string;
  /** False when the field does not apply to the server's sockets at all (a TCP field on an AF_UNIX server): it is set nowhere. */
  readonly applies: boolean;
}

/**
 * The fields of `plan` that a socket accepted from `server`'s listener would not start with, even
 * though the listener holds them: what the option table says is not inherited on this platform or
 * address family (lib/core/inheritance.ts: SO_PRIORITY; every field off Linux, and the keepalive
 * fields never on a listener there; every field of an AF_UNIX server, whose TCP fields do not
 * apply at all), and what Node itself sets on each accepted socket or session: a server made with
 * `keepAlive: true` re-enables keepalive (and with a delay sets idle, interval 1 and count 10),
 * `noDelay: true` (http's default) sets TCP_NODELAY, and an http2 server sets TCP_NODELAY when
 * each session starts. `platform` is read at the call (tests pass each one).
 */
export function listenerConflicts(server: net.Server, plan: Plan, platform: NodeJS.Platform = process.platform): ListenerConflict[] {
  // net.Server keeps these as given to its constructor (keepAliveInitialDelay in whole seconds).
  const own = server as unknown as { keepAlive?: unknown; keepAliveInitialDelay?: unknown; noDelay?: unknown; updateSettings?: unknown };
  const http2 = typeof own.updateSettings === 'function';
  const family = serverFamily(server) ?? 'IPv4';
  const conflicts: ListenerConflict[] = [];
  for (const { option, path, value } of plan.fields) {
    const where = listenerPlace(option.row, family, platform);
    if (where.place !== 'listener') {
      conflicts.push({ path, reason: where.reason, applies: where.place === 'per-connection' });
    } else if (path.startsWith('keepAlive.') && own.keepAlive === true) {
      const delay = Number(own.keepAliveInitialDelay);
      const overwritten = path === 'keepAlive.enable' ? value === 0 : delay > 0;
      if (overwritten) {
        conflicts.push({
          path,
          reason: `the server was created with keepAlive: true${delay > 0 ? ` and keepAliveInitialDelay (${delay} s)` : ''}, so Node sets keepalive on every socket it accepts${delay > 0 ? ' (idle, interval 1, count 10)' : ''}`,
          applies: true,
        });
      }
    } else if (path === 'noDelay' && value === 0 && (own.noDelay === true || http2)) {
      conflicts.push({
        path,
        reason: http2
          ? 'an http2 server sets TCP_NODELAY on each connection when its session starts'
          : 'the server was created with noDelay: true (the default of http.createServer), so Node sets TCP_NODELAY on every socket it accepts',
        applies: true,
      });
    }
  }
  return conflicts;
}

/** The typed refusal of a field that does not apply to a server's address family (tune(server), tuneServer(), listen()). */
export function notApplicableError(conflict: ListenerConflict): Error {
  return invalidValue(`tuning.${conflict.path}`, `does not apply to this server: ${conflict.reason}. Drop it from this server's tuning`, NOT_SHOWN);
}

/**
 * tune(server) is strict and exact: a tuning that could not hold on every accepted socket is
 * refused, naming the cause and the fix, rather than lost silently.
 */
export function refuseUnholdable(server: net.Server, plan: Plan): void {
  const conflicts = listenerConflicts(server, plan);
  if (conflicts.length === 0) return;
  const first = conflicts.find((c) => !c.applies) ?? conflicts[0]!;
  if (!first.applies) throw notApplicableError(first);
  throw invalidValue(
    `tuning.${first.path}`,
    `cannot hold on this server's accepted sockets: ${first.reason}. Use tuneServer(server, tuning), which sets such fields on each accepted socket after Node's own, or drop the server option`,
    NOT_SHOWN,
  );
}
