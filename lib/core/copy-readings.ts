/**
 * The rows startBorrowing() (lib/core/syscall.ts) fills, one per borrowed fd, read back: the
 * borrowing's errno, the copy's inode, whether it is a socket, and each getsockopt's length (or
 * -errno) and data. The layout is the addon's borrowRead (src-native/socket_knobs.cc).
 */
/** A getsockopt made on every borrowed copy by startBorrowing(): the option, and how many bytes to read. */
export interface CopyRead {
  /** The option as lib/core/syscall.ts resolves it (a Resolved). */
  readonly option: { readonly level: number; readonly option: number; readonly name: string };
  readonly size: number;
}

/** Ints per copy before the reads: status, the inode's two halves, is-a-socket. */
const COPY_HEADER = 4;

/** A row's layout for `reads`: where each read's result is (its data follows it), and the row's width, in ints. */
export interface RowLayout {
  readonly at: readonly number[];
  readonly stride: number;
}

export function rowLayout(reads: readonly CopyRead[]): RowLayout {
  let stride = COPY_HEADER;
  const at = reads.map((read) => {
    const here = stride;
    stride += 1 + Math.ceil(read.size / 4);
    return here;
  });
  return { at, stride };
}

/** What startBorrowing() found on each fd (index i, in the order of the fds given). */
export class CopyReadings {
  private readonly bytes: Uint8Array;
  private readonly at: readonly number[];
  readonly stride: number;
  constructor(
    readonly out: Int32Array,
    layout: RowLayout,
  ) {
    this.bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    this.at = layout.at;
    this.stride = layout.stride;
  }
  /** 0, or the errno of the borrowing (pidfd_getfd's: borrowError() says what it means) or of the copy's fstat. */
  errno(i: number): number {
    return -this.out[i * this.stride]!;
  }
  inode(i: number): number {
    const row = i * this.stride;
    return (this.out[row + 1]! >>> 0) + (this.out[row + 2]! >>> 0) * 2 ** 32;
  }
  isSocket(i: number): boolean {
    return this.out[i * this.stride + 3] === 1;
  }
  /** Read `k`'s length, or -errno. */
  length(i: number, k: number): number {
    return this.out[i * this.stride + this.at[k]!]!;
  }
  /** Read `k` as an int (a one-byte option widened, as getsockopt's int reads are). */
  int(i: number, k: number): number {
    const at = i * this.stride + this.at[k]!;
    return this.out[at] === 1 ? this.bytes[(at + 1) * 4]! : this.out[at + 1]!;
  }
  /** The second int of read `k` (a struct linger's seconds). */
  secondInt(i: number, k: number): number {
    return this.out[i * this.stride + this.at[k]! + 2]!;
  }
  /** Read `k`'s bytes (its length is length(i, k)). */
  data(i: number, k: number): Uint8Array {
    const at = (i * this.stride + this.at[k]! + 1) * 4;
    return this.bytes.subarray(at, at + Math.max(0, this.length(i, k)));
  }
}
