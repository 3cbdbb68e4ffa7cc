/**
 * Loads the addon: a local `build/Release` build when one exists, else the prebuild in
 * `prebuilds/<platform>-<arch>/` for this libc (glibc or musl) and N-API. The exact path is tried
 * first (a file read, no directory scan); node-gyp-build, which reads the same tags and honours
 * its environment overrides, resolves anything else. (The `bindings` package looks only in build/
 * and cannot tell glibc from musl prebuilds.)
 *
 * Where no binary matches (an unlisted platform, a source build that failed or never ran),
 * require('socket-knobs') still succeeds: an application whose knobs only matter in production on
 * Linux must still start on a developer's machine. Then `loadError()` says why, `constants` is
 * empty, `isSupported()` answers false, and every call that needs the addon throws a
 * SocketOptionError with code ERR_SOCKET_KNOBS_NO_ADDON saying how to build it. Never a no-op.
 *
 * Only lib/core/syscall.ts imports this module.
 */
import fs = require('node:fs');
import path = require('node:path');
import { SocketOptionError } from './errors';

/**
 * The batch layout the addon reads (its `batchLayout` export): slot indices into the Int32Array
 * bound with bindScratch. lib/core/syscall.ts states it as BATCH; a binary whose layout differs is
 * refused at load, like one of another version.
 */
export interface BatchLayout {
  readonly DONE: number;
  readonly HEADER: number;
  readonly OP_WIDTH: number;
  readonly LEVEL: number;
  readonly OPTION: number;
  readonly VALUE: number;
}

/**
 * The whole native surface: syscalls and the #ifdef support table, nothing else. Every function
 * returns one int32: >= 0 is its result (0, an fd, a length), < 0 the negated errno (Winsock's
 * WSAE* number on Windows). Wrong argument types throw a TypeError (only reachable by calling the
 * binding directly: the façade validates).
 */
export interface NativeBinding {
  /** Names the platform headers define, with their numeric values. */
  readonly constants: Record<string, number>;
  /** The batch layout (src-native/socket_knobs.cc: kDone, kHeader, kOpWidth, ...). */
  readonly batchLayout: BatchLayout;
  /** Binds a copy of the syscall module's scratch arrays (the int batch, the bytes of often-read structs) for this thread; returns its slot. */
  bindScratch(io: Int32Array, bytes: Uint8Array): number;
  /** setsockopt(int) for `count` operations laid out in the slot's batch; io[DONE] = how many succeeded. 0 or -errno. */
  setInts(slot: number, fd: number, count: number): number;
  /** getsockopt(int) for `count` operations of the slot's batch; values land in their value slots. 0 or -errno. */
  getInts(slot: number, fd: number, count: number): number;
  /** getsockopt into the slot's bytes. The length the kernel wrote, or -errno. */
  getScratchBytes(slot: number, fd: number, level: number, option: number): number;
  /** setsockopt with raw bytes. 0 or -errno. */
  setBytes(fd: number, level: number, option: number, bytes: Uint8Array): number;
  /** getsockopt into `bytes`. The length the kernel wrote, or -errno. */
  getBytes(fd: number, level: number, option: number, bytes: Uint8Array): number;
  /** socket(domain, type | SOCK_CLOEXEC, protocol). The fd, or -errno. */
  openSocket(domain: number, type: number, protocol: number): number;
  /** bind() to an IP literal (parsed with inet_pton). 0 or -errno. */
  bindSocket(fd: number, domain: number, address: string, port: number, scopeId: number): number;
  /** listen(fd, backlog). 0 or -errno. */
  listenSocket(fd: number, backlog: number): number;
  /** close(fd), for sockets the addon opened and nobody else owns yet. 0 or -errno. */
  closeSocket(fd: number): number;
  /** pidfd_open(pid, 0). The fd, or -errno (-ENOSYS off Linux). */
  pidfdOpen(pid: number): number;
  /** A NETLINK_SOCK_DIAG socket in the network namespace nsFd names (-1: this one). The fd, or -errno. */
  netlinkOpen(nsFd: number): number;
  /** One netlink request to the kernel. The length sent, or -errno. */
  netlinkSend(fd: number, bytes: Uint8Array): number;
  /** One netlink datagram into `bytes`. Its length, -EMSGSIZE when it did not fit, or -errno. */
  netlinkReceive(fd: number, bytes: Uint8Array): number;
  /**
   * Starts borrowing (pidfd_getfd) and reading each of `fds` on threads of the addon's, and
   * returns: finishBorrowRead() waits. Each copy is fstat-ed, read on a socket (level, option,
   * size triples), and closed. Row i of `out` (`stride` ints): [0 or -errno, inode low and high 32
   * bits, 1 on a socket], then per read its length or -errno and its data. With mount0 not "",
   * each thread first joins the given cgroup v1 hierarchies' cgroups (in its own private mount
   * namespace); `status` holds [step, errno] per thread (0, 0: joined). 0, or -errno (-ENOSYS off Linux).
   */
  borrowRead(
    pidfd: number,
    fds: Int32Array,
    reads: Int32Array,
    out: Int32Array,
    stride: number,
    status: Int32Array,
    mount0: string,
    options0: string,
    tasks0: string,
    mount1: string,
    options1: string,
    tasks1: string,
  ): number;
  /** Waits for the borrowRead() running, if one is. 0. */
  finishBorrowRead(): number;
}

/**
 * The batch layout this façade writes (lib/core/syscall.ts: BATCH). The addon exports its own; a
 * binary whose layout differs is refused at load, like a binary of another version.
 */
export const BATCH_LAYOUT: BatchLayout = Object.freeze({
  /** io[0], out: how many operations succeeded (before the one that failed, if one did). */
  DONE: 0,
  /** Operations start after the header's one slot. */
  HEADER: 1,
  /** Each operation is three slots: level, option, value (in for set, out for get). */
  OP_WIDTH: 3,
  LEVEL: 0,
  OPTION: 1,
  VALUE: 2,
});

/** The names of the binding's functions (every member but the data). */
type FunctionName = Exclude<keyof NativeBinding, 'constants' | 'batchLayout'>;

/**
 * Every function the addon exports (src-native/socket_knobs.cc: kExports, in the same order; a unit
 * test compares the two). The record form makes the compiler refuse a list that misses one.
 */
const FUNCTION_SET: Record<FunctionName, true> = {
  bindScratch: true,
  setInts: true,
  getInts: true,
  getScratchBytes: true,
  setBytes: true,
  getBytes: true,
  openSocket: true,
  bindSocket: true,
  listenSocket: true,
  closeSocket: true,
  pidfdOpen: true,
  netlinkOpen: true,
  netlinkSend: true,
  netlinkReceive: true,
  borrowRead: true,
  finishBorrowRead: true,
};
export const FUNCTIONS = Object.keys(FUNCTION_SET) as FunctionName[];

// The package's folder: this file runs from dist/index.js (the bundle) or, in the tests that
// import a module directly, from dist/modules/core/native.js.
const root = __dirname.slice(0, __dirname.lastIndexOf(`${path.sep}dist`));

/** Why the addon could not be loaded, or null when it was. */
export let loadError: string | null = null;
let loadedFrom: string | null = null;

/** The error every call that needs the addon throws when there is none. */
export function noAddonError(): SocketOptionError {
  return new SocketOptionError(
    'ERR_SOCKET_KNOBS_NO_ADDON',
    `socket-knobs has no native addon for ${process.platform}-${process.arch} (${loadError}). ` +
      'To build it from source (a C++ compiler, make and Python are needed): ' +
      'npm install-scripts approve socket-knobs, then npm rebuild socket-knobs',
  );
}

/** The binding used when no addon loaded: every function throws ERR_SOCKET_KNOBS_NO_ADDON, generated from the list. */
function unavailable(layout: BatchLayout): NativeBinding {
  const fail = (): never => {
    throw noAddonError();
  };
  const functions = Object.fromEntries(FUNCTIONS.map((name) => [name, fail])) as Record<FunctionName, () => never>;
  // bindScratch has nothing to bind: every call that would use its slot throws first.
  return { constants: {}, batchLayout: layout, ...functions, bindScratch: () => 0 };
}

/**
 * The path node-gyp-build would choose in the common cases, or null to let it search: no
 * environment override is set, and the file is there. Prebuild names follow prebuildify's tags
 * (`--napi --tag-libc`): `socket-knobs.glibc.node` / `.musl.node` on Linux, `socket-knobs.node` elsewhere.
 */
function exactPath(): string | null {
  const env = process.env;
  if (env.SOCKET_KNOBS_PREBUILD || env.npm_config_arch || env.npm_config_platform || env.LIBC) return null;
  if (!env.PREBUILDS_ONLY) {
    const local = path.join(root, 'build', 'Release', 'socket_knobs.node');
    if (fs.existsSync(local)) return local;
    // A Debug build would be node-gyp-build's next choice: let it decide.
    if (fs.existsSync(path.join(root, 'build', 'Debug'))) return null;
  }
  const libc = process.platform === 'linux' ? (fs.existsSync('/etc/alpine-release') ? '.musl' : '.glibc') : '';
  const prebuild = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, `socket-knobs${libc}.node`);
  return fs.existsSync(prebuild) ? prebuild : null;
}

function load(): NativeBinding {
  try {
    const file = exactPath() ?? (require('node-gyp-build') as { resolve(dir: string): string }).resolve(root);
    const binding = require(file) as NativeBinding;
    // A binary of another version of this package (a stale build or prebuild) is not this one's.
    const missing = FUNCTIONS.filter((name) => typeof binding[name] !== 'function');
    if (missing.length > 0) throw new Error(`${file} is not this version's addon (it lacks ${missing.join(', ')}): rebuild it`);
    const layout = binding.batchLayout as Partial<BatchLayout> | undefined;
    const differs = (Object.keys(BATCH_LAYOUT) as (keyof BatchLayout)[]).filter((key) => layout?.[key] !== BATCH_LAYOUT[key]);
    if (differs.length > 0) throw new Error(`${file} is not this version's addon (its batch layout differs in ${differs.join(', ')}): rebuild it`);
    loadedFrom = file;
    return binding;
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    loadError = message.length > 300 ? `${message.slice(0, 297)}...` : message;
    return unavailable(BATCH_LAYOUT);
  }
}

export const native: NativeBinding = load();

/** Where the loaded addon comes from (a prebuild or a local build), or null when none loaded. */
export function nativePath(): string | null {
  return loadedFrom;
}

/** Throws ERR_SOCKET_KNOBS_NO_ADDON when no addon was loaded. */
export function requireAddon(): void {
  if (loadError !== null) throw noAddonError();
}
