/**
 * How a tuning attaches to the objects a user hands over, through the attachment layer's hooks
 * (lib/node/hooks.ts): a socket at its 'connect', every socket of an agent (at 'connect' and at each
 * return to the pool), every socket a connector hands out. What to apply is decided here; when is
 * the hooks' business.
 */
import type net = require('node:net');
import { SocketOptionError } from '../core/errors';
import { agentSockets, isConnected, onAgentSocket, onConnectorPrepare, onPoolReturn, whenConnected, wrapConnector, type AnyConnector } from '../node/hooks';
import { applyPlan } from './apply';
import type { Plan } from './tuning';

/** The slot of a socket's pending tuning: one per socket, whoever left it (the last call wins, whole). */
const TUNING_SLOT = Symbol('socket-knobs.tuning');

/** A tuning waiting for a socket's 'connect': a plan, or where to read the current one (an agent's). */
type PendingPlan = Plan | (() => Plan | null);

/**
 * Leaves `plan` to be applied when `socket` connects, replacing any tuning already pending on it.
 * If the kernel refuses it there, the socket is destroyed with the SyscallError ('error', or a
 * failed request): never lost.
 */
export function tuneWhenConnected(socket: net.Socket, plan: PendingPlan): void {
  whenConnected(socket, TUNING_SLOT, () => {
    const current = typeof plan === 'function' ? plan() : plan;
    if (!current) return;
    try {
      applyPlan(socket, current);
    } catch (err) {
      socket.destroy(err as Error);
    }
  });
}

interface AgentTuning {
  plan: Plan;
  readonly unhook: (() => void)[];
}

/** Each tuned agent's current tuning (weakly: a dropped agent is collected with it). */
const agentTunings = new WeakMap<object, AgentTuning>();

/**
 * Sets the agent's tuning (null removes it): every socket it creates is tuned at 'connect' and
 * again on each return to the pool; the sockets it already has are tuned now (connected ones at
 * once, connecting ones at 'connect'). A socket the kernel refuses the tuning for is destroyed
 * with the SyscallError (or, at a return to the pool, not pooled).
 */
export function setAgentTuning(agent: object, plan: Plan | null): void {
  let entry = agentTunings.get(agent);
  if (!plan) {
    if (entry) for (const undo of entry.unhook.splice(0)) undo();
    agentTunings.delete(agent);
    return;
  }
  if (!entry) {
    const created: AgentTuning = { plan, unhook: [] };
    entry = created;
    agentTunings.set(agent, entry);
    // The agent's current tuning, read at 'connect': a tuneAgent() meanwhile replaces it whole.
    const current = (): Plan | null => (agentTunings.get(agent) === created ? created.plan : null);
    entry.unhook.push(onAgentSocket(agent, (socket) => tuneWhenConnected(socket, current), false));
    entry.unhook.push(
      onPoolReturn(agent, (socket) => {
        const now = current();
        if (!now) return true;
        try {
          applyPlan(socket, now);
          return true;
        } catch (err) {
          // The socket cannot be tuned (it closed meanwhile): do not keep it in the pool.
          if (err instanceof SocketOptionError) return false;
          throw err;
        }
      }),
    );
  }
  entry.plan = plan;
  for (const socket of agentSockets(agent)) {
    if (socket.destroyed) continue;
    if (isConnected(socket)) {
      try {
        applyPlan(socket, plan);
      } catch (err) {
        socket.destroy(err as Error);
      }
    } else tuneWhenConnected(socket, plan);
  }
}

/**
 * A connector around `inner` whose sockets are tuned (when `plan` is given) before they are handed
 * out; it can be observed. If the kernel refuses the tuning, the socket is destroyed and the callback
 * gets the SyscallError (the request fails with it).
 */
export function tunedConnector<C extends AnyConnector>(inner: C, plan: Plan | null): C {
  const connector = wrapConnector(inner);
  if (plan) onConnectorPrepare(connector, (socket) => applyPlan(socket, plan));
  return connector;
}
