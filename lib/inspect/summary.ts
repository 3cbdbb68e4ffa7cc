/**
 * inspectProcess()'s filters and summary: which sockets a call lists (state, local or remote port,
 * peer), and how many of each state and of each tuning there are. A summary of 10,000 sockets
 * counts them from their briefs and their copies' reads (lib/inspect/borrow.ts: counted()) without
 * decoding 10,000 rows; the rows listed and the summary always describe the same sockets.
 */
import { net } from '../core/builtins';
import { invalidValue, validateInteger } from '../core/validate';
import { TCP_STATE_NAMES } from '../options/tcpinfo-layout';
import type { TuningState } from '../tuning/readback';
import type { SocketBrief } from './diag';

/** The sockets a call lists (every one given must match). */
export interface SocketFilter {
  /** Only sockets in this state: 'ESTABLISHED', 'LISTEN', 'CLOSE_WAIT', ... (Linux's names). */
  state?: string;
  /** Only sockets whose local port is this. */
  localPort?: number;
  /** Only sockets whose remote port is this. */
  remotePort?: number;
  /** Only sockets whose remote address is this IP address (IPv6 with or without brackets, any spelling). */
  peer?: string;
}

/** The sockets of one tuning, as a summary counts them. */
export interface TuningCount {
  /**
   * 'connection': counted by its keepalive and user timeout. Listeners, sockets whose tuning could
   * not be read ('unreadable') and sockets not borrowed ('unavailable') are counted apart.
   */
  readonly kind: 'connection' | 'listener' | 'unreadable' | 'unavailable';
  /** A connection's keepalive, as its TuningState has it. */
  readonly keepAlive?: TuningState['keepAlive'];
  /** A connection's user timeout (ms; absent where this platform has none). */
  readonly userTimeout?: number;
  readonly sockets: number;
}

/** What inspectProcess() found, counted whole even where `limit` shortens its list. */
export interface InspectSummary {
  /** The process's TCP sockets (fds that are sockets the kernel's diagnostics list), filtered or not. */
  readonly sockets: number;
  /** Of them, those the filter matched: what `connections` lists, up to `limit`. */
  readonly matched: number;
  /** The matched sockets per state, most first. */
  readonly byState: readonly { readonly state: string; readonly sockets: number }[];
  /** The matched sockets per tuning (keepalive and user timeout), most first. */
  readonly byTuning: readonly TuningCount[];
  /** With `expect`: the matched sockets whose tuning was compared with it (not listeners, not unread). */
  readonly checked?: number;
  /** With `expect`: of those, the sockets whose tuning differs from it. */
  readonly differing?: number;
  /** Where borrowing may re-label: the matched sockets whose class id changed (their rows say `relabelled`). */
  readonly relabelled?: number;
}

/** A filter's fields, checked: a typo is an error, never an empty list. */
function readFilter(given: Partial<Record<keyof SocketFilter, unknown>>): Readonly<SocketFilter> {
  const filter: SocketFilter = {};
  if (given.state !== undefined) {
    if (typeof given.state !== 'string' || !TCP_STATE_NAMES.includes(given.state))
      throw invalidValue('options.state', `must be one of ${TCP_STATE_NAMES.join(', ')}`, given.state);
    filter.state = given.state;
  }
  if (given.localPort !== undefined) filter.localPort = validateInteger(given.localPort, 'options.localPort', 1, 65535);
  if (given.remotePort !== undefined) filter.remotePort = validateInteger(given.remotePort, 'options.remotePort', 1, 65535);
  if (given.peer !== undefined) filter.peer = canonicalAddress(given.peer);
  return filter;
}

/** An IP address in the form the rows print it (inet_ntop's), brackets removed. */
function canonicalAddress(value: unknown): string {
  const address = typeof value === 'string' ? value.replace(/^\[(.*)\]$/, '$1') : '';
  const version = net().isIP(address);
  if (version === 0) throw invalidValue('options.peer', 'must be an IP address', value);
  return new (net().SocketAddress)({ address, family: version === 6 ? 'ipv6' : 'ipv4' }).address;
}

/** The port and the address (no brackets) of an `address:port` endpoint. */
function split(endpoint: string): { host: string; port: number } {
  const at = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, at);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(endpoint.slice(at + 1)) };
}

/** True if the socket `brief` describes is one `filter` lists. */
export function matches(filter: Readonly<SocketFilter>, brief: Pick<SocketBrief, 'state' | 'local' | 'remote'>): boolean {
  if (filter.state !== undefined && brief.state !== filter.state) return false;
  if (filter.localPort !== undefined && split(brief.local).port !== filter.localPort) return false;
  if (filter.remotePort !== undefined && split(brief.remote).port !== filter.remotePort) return false;
  return filter.peer === undefined || split(brief.remote).host === filter.peer;
}

/** What a summary counts of a socket (a row): its state, its tuning or why it has none, its drift and relabelling. */
export interface Tallied {
  readonly state: string;
  readonly tuning?: Pick<TuningState, 'keepAlive' | 'userTimeout'>;
  readonly error?: string;
  readonly unavailable?: string;
  readonly drift?: readonly string[];
  readonly relabelled?: unknown;
}

/** A connection's keepalive and user timeout, as a summary groups them (undefined: not on this platform). */
interface GroupValues {
  enable: boolean | undefined;
  idle: number | undefined;
  interval: number | undefined;
  count: number | undefined;
  userTimeout: number | undefined;
}

/** Counts sockets by state and by tuning, in the order first seen; summary() sorts them. */
export class Tally {
  private readonly states = new Map<string, number>();
  private readonly tunings = new Map<string, { group: Omit<TuningCount, 'sockets'>; sockets: number }>();
  /** The group of the last connection counted (most sockets of a process share a few): its values, and its entry. */
  private readonly last: GroupValues = { enable: undefined, idle: undefined, interval: undefined, count: undefined, userTimeout: undefined };
  private lastEntry: { sockets: number } | undefined;
  private matched = 0;
  private checked = 0;
  private differing = 0;
  private relabelled = 0;

  /** Counts a row. */
  add(socket: Tallied): void {
    const kind = socket.error ? 'unreadable' : socket.unavailable ? 'unavailable' : socket.state === 'LISTEN' ? 'listener' : 'connection';
    if (kind === 'connection') {
      const k = socket.tuning!.keepAlive;
      this.addConnection(socket.state, k.enable, k.idle, k.interval, k.count, socket.tuning!.userTimeout);
    } else {
      this.addState(socket.state);
      const seen = this.tunings.get(kind);
      if (seen) seen.sockets++;
      else this.tunings.set(kind, { group: { kind }, sockets: 1 });
    }
    if (socket.drift) {
      this.checked++;
      if (socket.drift.length > 0) this.differing++;
    }
    if (socket.relabelled) this.relabelled++;
  }

  /** Counts a connection (not a listener) that has no row: its state, keepalive and user timeout. */
  addConnection(
    state: string,
    enable: boolean | undefined,
    idle: number | undefined,
    interval: number | undefined,
    count: number | undefined,
    userTimeout: number | undefined,
  ): void {
    this.addState(state);
    const last = this.last;
    if (
      this.lastEntry &&
      last.enable === enable &&
      last.idle === idle &&
      last.interval === interval &&
      last.count === count &&
      last.userTimeout === userTimeout
    ) {
      this.lastEntry.sockets++;
      return;
    }
    const key = `${enable}/${idle}/${interval}/${count}/${userTimeout}`;
    let entry = this.tunings.get(key);
    if (entry) entry.sockets++;
    else this.tunings.set(key, (entry = { group: groupOf({ enable, idle, interval, count, userTimeout }), sockets: 1 }));
    Object.assign(last, { enable, idle, interval, count, userTimeout });
    this.lastEntry = entry;
  }

  private addState(state: string): void {
    this.matched++;
    this.states.set(state, (this.states.get(state) ?? 0) + 1);
  }

  summary(sockets: number, expect: boolean, labelsChecked: boolean): InspectSummary {
    const most = <T extends { sockets: number }>(a: T, b: T): number => b.sockets - a.sockets;
    return {
      sockets,
      matched: this.matched,
      byState: [...this.states].map(([state, n]) => ({ state, sockets: n })).sort(most),
      byTuning: [...this.tunings.values()].map(({ group, sockets: n }) => ({ ...group, sockets: n })).sort(most),
      ...(expect ? { checked: this.checked, differing: this.differing } : {}),
      ...(labelsChecked ? { relabelled: this.relabelled } : {}),
    };
  }
}

/** A connection's group: its keepalive (the fields this platform has) and user timeout. */
function groupOf(v: GroupValues): Omit<TuningCount, 'sockets'> {
  const keepAlive = Object.fromEntries(
    Object.entries({ enable: v.enable, idle: v.idle, interval: v.interval, count: v.count }).filter(([, x]) => x !== undefined),
  );
  const group = { kind: 'connection' as const, keepAlive: keepAlive as TuningState['keepAlive'] };
  return v.userTimeout === undefined ? group : { ...group, userTimeout: v.userTimeout };
}

/** inspectProcess()'s options for its list: the filter and the limit, checked. */
export function readListing(given: Partial<Record<keyof SocketFilter | 'limit', unknown>>): { filter: Readonly<SocketFilter>; limit: number } {
  const limit = given.limit === undefined ? Infinity : validateInteger(given.limit, 'options.limit', 0, 2 ** 31 - 1);
  return { filter: readFilter(given), limit };
}
