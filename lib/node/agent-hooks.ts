/**
 * The attachment layer's agent hooks (http.Agent, https.Agent and their subclasses): each socket an
 * agent creates, each return to its pool, and a replacement for how it creates them (lib/node/hooks.ts).
 */
import type net = require('node:net');
import { netClasses } from '../core/builtins';
import { guarded, registryOf } from './registry';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** What creates an agent's connections: Node's createConnection, or dialAgent's. */
export type CreateConnection = (this: unknown, ...args: unknown[]) => unknown;

interface AgentHooks {
  /** A replacement for the agent's own createConnection (dialAgent). */
  create: CreateConnection | null;
  /** Called once for each socket the agent creates (tunings, observe). */
  readonly created: Set<(socket: net.Socket) => void>;
  /**
   * Called when Node's keepSocketAlive() keeps a socket for the pool; one returning false refuses
   * it (the socket is not pooled). On Node 20 and 22 an https.Agent with keepAlive resets keepalive
   * there, so a tuning is applied again here.
   */
  readonly poolReturn: Set<(socket: net.Socket) => boolean>;
  /** Sockets already handed to the features, across createConnection's return value and callback. */
  seen: WeakSet<net.Socket>;
  installed: {
    createConnection?: PropertyDescriptor;
    keepSocketAlive?: PropertyDescriptor;
    /** The wrappers install() put there. */
    ours?: { createConnection: AnyFunction; keepSocketAlive: (socket: net.Socket) => boolean };
  } | null;
}

interface AgentLike {
  createConnection: AnyFunction;
  keepSocketAlive: (socket: net.Socket) => boolean;
  sockets?: Record<string, net.Socket[] | undefined>;
  freeSockets?: Record<string, net.Socket[] | undefined>;
}

function agentHooks(agent: object): AgentHooks {
  const hooks = registryOf<AgentHooks>(agent, () => ({ create: null, created: new Set(), poolReturn: new Set(), seen: new WeakSet(), installed: null }));
  if (!hooks.installed) install(agent as AgentLike, hooks);
  return hooks;
}

/** A new socket of the agent, shown once to every registered feature. */
function adoptAgentSocket(hooks: AgentHooks, socket: unknown): void {
  if (!(socket instanceof netClasses().Socket) || hooks.seen.has(socket)) return;
  hooks.seen.add(socket);
  for (const fn of [...hooks.created]) guarded(() => fn(socket));
}

function install(agent: AgentLike, hooks: AgentHooks): void {
  hooks.installed = {
    createConnection: Object.getOwnPropertyDescriptor(agent, 'createConnection'),
    keepSocketAlive: Object.getOwnPropertyDescriptor(agent, 'keepSocketAlive'),
  };
  const createConnection = agent.createConnection;
  const keepSocketAlive = agent.keepSocketAlive;
  // Every argument is forwarded as given: (options, oncreate) from the Agent itself, and
  // (port, host, listener) or https's (port, host, options) from a caller. A function argument is
  // wrapped only to see a socket passed to it (the Agent's oncreate(err, socket)); it is called
  // with the same `this` and arguments.
  agent.createConnection = function createConnectionWithHooks(this: unknown, ...args: unknown[]) {
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = function callbackWithHooks(this: unknown, ...results: unknown[]) {
        adoptAgentSocket(hooks, results[1]);
        return (callback as AnyFunction).apply(this, results);
      };
    }
    const returned = (hooks.create ?? createConnection).apply(this, args);
    adoptAgentSocket(hooks, returned);
    return returned;
  };
  agent.keepSocketAlive = function keepSocketAliveWithHooks(this: unknown, socket: net.Socket): boolean {
    if (!keepSocketAlive.call(this, socket)) return false;
    for (const fn of [...hooks.poolReturn]) if (!fn(socket)) return false;
    return true;
  };
  hooks.installed.ours = { createConnection: agent.createConnection, keepSocketAlive: agent.keepSocketAlive };
}

/**
 * Removes what install() put on the agent once nothing is registered, and only while our wrappers are
 * still the outermost: one that someone wrapped since (an APM library, another copy of the package)
 * stays, passing through, so theirs is never removed with ours.
 */
function uninstallIfIdle(agent: object, hooks: AgentHooks): void {
  if (hooks.create || hooks.created.size > 0 || hooks.poolReturn.size > 0 || !hooks.installed) return;
  const target = agent as Record<string, unknown>;
  if (target.createConnection !== hooks.installed.ours?.createConnection || target.keepSocketAlive !== hooks.installed.ours?.keepSocketAlive) return;
  for (const key of ['createConnection', 'keepSocketAlive'] as const) {
    const before = hooks.installed[key];
    if (before) Object.defineProperty(target, key, before);
    else delete target[key];
  }
  hooks.installed = null;
  hooks.seen = new WeakSet();
}

/** The sockets an agent holds now: in use (`sockets`) and pooled (`freeSockets`). */
export function agentSockets(agent: object): net.Socket[] {
  const out: net.Socket[] = [];
  for (const group of [(agent as AgentLike).sockets, (agent as AgentLike).freeSockets]) {
    if (!group) continue;
    for (const list of Object.values(group)) if (list) for (const socket of list) if (socket instanceof netClasses().Socket) out.push(socket);
  }
  return out;
}

/** Replaces how the agent creates its connections (dialAgent); null restores the agent's own. */
export function setAgentCreate(agent: object, create: CreateConnection | null): void {
  const hooks = agentHooks(agent);
  hooks.create = create;
  uninstallIfIdle(agent, hooks);
}

/**
 * Calls `fn` for each socket the agent creates from now on, and (with `existing`) each it has now,
 * in use or pooled. Returns the unregistration.
 */
export function onAgentSocket(agent: object, fn: (socket: net.Socket) => void, existing = true): () => void {
  const hooks = agentHooks(agent);
  hooks.created.add(fn);
  if (existing) {
    for (const socket of agentSockets(agent)) {
      hooks.seen.add(socket);
      if (!socket.destroyed) guarded(() => fn(socket));
    }
  }
  return () => {
    hooks.created.delete(fn);
    uninstallIfIdle(agent, hooks);
  };
}

/** Calls `fn` each time the agent keeps a socket for its pool; `fn` returning false refuses it. Returns the unregistration. */
export function onPoolReturn(agent: object, fn: (socket: net.Socket) => boolean): () => void {
  const hooks = agentHooks(agent);
  hooks.poolReturn.add(fn);
  return () => {
    hooks.poolReturn.delete(fn);
    uninstallIfIdle(agent, hooks);
  };
}
