/**
 * What inspectProcess() and findSockets() read from /proc: a process's fds, its cgroups, its
 * command, the TCP table of its network namespace, and which processes hold which sockets.
 */
import fs = require('node:fs');
import { stateName } from '../options/tcpinfo-layout';
import { ipv6Text } from './diag';

/** A row of /proc/net/tcp{,6}. */
export interface ProcSocket {
  readonly local: string;
  readonly remote: string;
  readonly state: string;
}

/** The same row with what else /proc/net/tcp says: the owner and the queues (a listener's receive queue: its accept queue). */
export interface ProcSocketDetail extends ProcSocket {
  readonly uid: number;
  readonly receiveQueue: number;
  readonly sendQueue: number;
}

/** The kernel's largest pid (/proc/sys/kernel/pid_max; 4194304, the 64-bit maximum, where it cannot be read). */
export function pidMax(): number {
  try {
    const value = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'latin1').trim());
    return Number.isInteger(value) && value > 0 ? value : 4194304;
  } catch {
    return 4194304;
  }
}

/** An address of /proc/net/tcp{,6}: hex, in the kernel's (little-endian) word order. */
function procAddress(hex: string): string {
  const [addr, port] = hex.split(':') as [string, string];
  const portNumber = parseInt(port, 16);
  if (addr.length === 8) {
    const b = Buffer.from(addr, 'hex').reverse();
    return `${b.join('.')}:${portNumber}`;
  }
  // IPv6: four 32-bit words, each in host byte order.
  const bytes = Buffer.alloc(16);
  for (let w = 0; w < 4; w++)
    Buffer.from(addr.slice(w * 8, w * 8 + 8), 'hex')
      .reverse()
      .copy(bytes, w * 4);
  return `[${ipv6Text(bytes, 0)}]:${portNumber}`;
}

/** inode -> { local, remote, state } for the TCP sockets of `pid`'s network namespace (`self`: this process's). */
export function tcpTable(pid: number | 'self'): Map<string, ProcSocketDetail> {
  const table = new Map<string, ProcSocketDetail>();
  for (const file of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue; // no IPv6 here
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const [sendQueue, receiveQueue] = f[4]!.split(':').map((hex) => parseInt(hex, 16)) as [number, number];
      table.set(f[9]!, {
        local: procAddress(f[1]!),
        remote: procAddress(f[2]!),
        state: stateName(parseInt(f[3]!, 16)),
        uid: Number(f[7]),
        receiveQueue,
        sendQueue,
      });
    }
  }
  return table;
}

/**
 * A process's command: its argv[0]'s base name (/proc/PID/cmdline), else its thread name
 * (/proc/PID/comm: Node 22 and later name their main thread `MainThread`, which says little).
 */
function commandOf(pid: string): string | null {
  try {
    const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    if (argv0) return argv0.slice(argv0.lastIndexOf('/') + 1);
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null; // exited meanwhile
  }
}

/** A process's fd holding a socket of a given inode. */
export interface Holder extends ProcSocket {
  readonly pid: number;
  readonly command: string | null;
  readonly fd: number;
  readonly inode: string;
}

/** Every process's fds (those this process may read) that hold one of `wanted`'s sockets, by inode. */
export function holders(wanted: Map<string, ProcSocket>): Holder[] {
  const found: Holder[] = [];
  if (wanted.size === 0) return found;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // exited, or not ours to read
    }
    for (const fd of fds) {
      let link = '';
      try {
        link = fs.readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        // closed meanwhile
      }
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      const row = inode === undefined ? undefined : wanted.get(inode);
      if (!row) continue;
      const command = commandOf(entry);
      found.push({ pid: Number(entry), command, fd: Number(fd), ...row, inode: inode! });
    }
  }
  return found;
}
