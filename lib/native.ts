/**
 * Loads the addon with node-gyp-build: a local `build/Release` build when one exists, else the
 * prebuild in `prebuilds/<platform>-<arch>/` matching this libc (glibc or musl) and N-API.
 * (The `bindings` package looks only in build/ and cannot tell glibc from musl prebuilds.)
 */
import path = require('node:path');
import loadBinding = require('node-gyp-build');

/** The whole native surface: syscalls and the #ifdef support table, nothing else. */
export interface NativeBinding {
  /** Names the platform headers define, with their numeric values. */
  readonly constants: Record<string, number>;
  /** setsockopt(int) for `count` operations laid out in `io` (see src-native/socket_knobs.cc). Returns errno or 0. */
  setInts(fd: number, io: Int32Array, count: number): number;
  /** getsockopt(int) for `count` operations; values are written into the operations' value slots. */
  getInts(fd: number, io: Int32Array, count: number): number;
  /** setsockopt with raw bytes. Returns errno or 0. */
  setBytes(fd: number, level: number, option: number, bytes: Uint8Array): number;
  /** getsockopt into `bytes`; `io[1]` receives the length the kernel wrote. Returns errno or 0. */
  getBytes(fd: number, level: number, option: number, bytes: Uint8Array, io: Int32Array): number;
  /** socket(domain, type | SOCK_CLOEXEC, 0). Returns the fd, or -errno. */
  openSocket(domain: number, type: number): number;
  /** bind() to an IP literal (parsed with inet_pton). Returns errno or 0. */
  bindSocket(fd: number, domain: number, address: string, port: number, scopeId: number): number;
  /** listen(fd, backlog). Returns errno or 0. */
  listenSocket(fd: number, backlog: number): number;
  /** close(fd), for sockets the addon opened and nobody else owns yet. Returns errno or 0. */
  closeSocket(fd: number): number;
}

export const native: NativeBinding = loadBinding(path.join(__dirname, '..'));

/** Where the loaded addon comes from (a prebuild or a local build), for diagnostics. */
export function nativePath(): string {
  return loadBinding.resolve(path.join(__dirname, '..'));
}
