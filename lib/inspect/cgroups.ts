/**
 * Borrowing without re-labelling. pidfd_getfd runs the kernel's __receive_sock(), which gives the
 * borrowed socket the borrowing thread's cgroup v1 net_cls class id and net_prio index, for the rest
 * of its life: a tc or nftables policy on the target's class would stop matching it. Nothing changes
 * where no cgroup v1 hierarchy holds those controllers, or where both are in the same cgroups. Else
 * the borrowing is done by a thread that first joins the target's cgroups (cgroup v1 membership is
 * per thread), in a private mount namespace, never in a hierarchy co-mounted with a resource
 * controller (cpu, memory, pids: joining would move the thread's accounting too).
 */
import fs = require('node:fs');
import { os } from '../core/builtins';
import type { CgroupToJoin } from '../core/syscall';

/** The controllers that tag sockets. */
const TAGGING = new Set(['net_cls', 'net_prio']);

/** A process's cgroup v1 hierarchies that hold a tagging controller: controllers -> path. */
function taggingCgroups(pid: number | 'self'): Map<string, string> {
  const paths = new Map<string, string>();
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return paths;
  }
  for (const line of text.split('\n')) {
    const [, controllers = '', ...rest] = line.split(':');
    if (controllers.split(',').some((c) => TAGGING.has(c))) paths.set(controllers, rest.join(':'));
  }
  return paths;
}

/** How `pid`'s fds can be borrowed without re-labelling their sockets. */
export type BorrowPlan =
  /**
   * Borrow from any thread. `relabels`: it changes the sockets' class (allowRelabel, the two
   * processes in different tagging cgroups), so the class ids are compared after, and each change
   * said; else it changes nothing (cgroup v2 only, or both processes in the same cgroups).
   */
  | { readonly kind: 'plain'; readonly relabels: boolean }
  /** Borrow from a thread that joins these cgroups first. */
  | { readonly kind: 'join'; readonly joins: readonly CgroupToJoin[] }
  /** It cannot be done: why. */
  | { readonly kind: 'refused'; readonly reason: string };

const ACCEPT = 'pass allowRelabel (--allow-relabel) to borrow anyway, accepting the re-labelling';

/** How to borrow `pid`'s fds without re-labelling (`allowRelabel`: plain, whatever it changes). */
export function borrowPlan(pid: number, allowRelabel: boolean): BorrowPlan {
  const ours = taggingCgroups('self');
  const joins: CgroupToJoin[] = [];
  for (const [controllers, path] of taggingCgroups(pid)) {
    if (ours.get(controllers) === path) continue;
    if (allowRelabel) return { kind: 'plain', relabels: true };
    const others = controllers.split(',').filter((c) => !TAGGING.has(c));
    if (others.length > 0)
      return {
        kind: 'refused',
        reason: `not borrowed: its ${controllers} cgroup differs from this process's, and joining it would move this process's ${others.join(', ')} accounting too; ${ACCEPT}`,
      };
    joins.push({ controllers, path });
  }
  if (joins.length === 0) return { kind: 'plain', relabels: false };
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return {
      kind: 'refused',
      reason: `not borrowed: pidfd_getfd would move the socket into this process's ${[...joins.map((j) => j.controllers)].join(' and ')} cgroup (cgroup v1), and joining the target's first needs root; ${ACCEPT}`,
    };
  return { kind: 'join', joins };
}

/** A private folder to mount the hierarchies on (in the borrowing thread's own mount namespace), and its removal. */
export function mountRoot(): { path: string; remove: () => void } {
  const path = fs.mkdtempSync(`${os().tmpdir()}/socket-knobs-cgroup-`);
  fs.mkdirSync(`${path}/0`);
  fs.mkdirSync(`${path}/1`);
  return { path, remove: () => fs.rmSync(path, { recursive: true, force: true }) };
}
