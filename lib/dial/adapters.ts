/**
 * The clients that open sockets for you, dialing: an http(s).Agent whose connections come from
 * dial() (dialAgent), and an undici-style connector (dialConnector), through the attachment layer's
 * hooks. Each connection the client asks for is planned with the client's own options (forRequest).
 */
import type net = require('node:net');
import { net as netModule, os } from '../core/builtins';
import { syscallError } from '../core/syscall';
import { invalidType, readOptions } from '../core/validate';
import { setAgentCreate, wrapConnector, type Connector } from '../node/hooks';
import { isAgent } from '../node/kinds';
import { setAgentTuning } from '../tuning/attach';
import { DIAL_FIELDS, compileDialer, forRequest, type DialerOptions, type DialPlan } from './plan';
import { dialPlanned, typed } from './race';

interface AgentConnectOptions {
  host?: string;
  hostname?: string;
  port?: number | string;
  localAddress?: string;
  servername?: string;
  [key: string]: unknown;
}

/**
 * Makes an `http.Agent` or `https.Agent` open its connections with dial() (TLS kept for https:
 * `tls.connect({ ...the agent's options, socket })`), with the tuning kept through the agent's pool
 * as tuneAgent does. Returns the agent; a second call replaces the first.
 */
export function dialAgent<A extends object>(agent: A, options: DialerOptions): A {
  const plan = compileDialer(options);
  if (!isAgent(agent)) throw invalidType('agent', 'an instance of http.Agent or https.Agent', agent);
  const isHttps = (agent as { protocol?: unknown }).protocol === 'https:';
  const create = function dialedConnection(this: unknown, ...args: unknown[]): undefined {
    const connectOptions = (args[0] ?? {}) as AgentConnectOptions;
    const oncreate = args[args.length - 1] as (err: Error | null, socket?: net.Socket) => void;
    const host = connectOptions.host ?? connectOptions.hostname ?? 'localhost';
    const port = Number(connectOptions.port ?? (isHttps ? 443 : 80));
    let destination: DialPlan;
    try {
      destination = forRequest(plan, connectOptions, host, port, 'request');
    } catch (err) {
      // The request's own error, as Node reports a bad createConnection option: on the request.
      process.nextTick(oncreate, err);
      return undefined;
    }
    const started = Date.now();
    dialPlanned(destination).then(
      (socket) => {
        if (!isHttps) {
          oncreate(null, socket);
          return;
        }
        // The agent's own TLS options and the request's, over the dialed socket; the request sees
        // TLS errors on the socket as with a plain https.Agent.
        const tls = require('node:tls') as typeof import('node:tls');
        const servername = connectOptions.servername ?? (netModule().isIP(host) ? undefined : host);
        const secure = tls.connect({ ...(connectOptions as object), ...(servername ? { servername } : {}), socket });
        if (destination.connectTimeout !== undefined) {
          // connectTimeout covers the handshake too.
          const timer = setTimeout(
            () =>
              secure.destroy(
                syscallError(
                  os().constants.errno.ETIMEDOUT,
                  'connect',
                  { address: destination.host, port: destination.port },
                  undefined,
                  `no TLS session within ${destination.connectTimeout} ms (connectTimeout covers the lookup, the connection and the handshake)`,
                ),
              ),
            Math.max(0, destination.connectTimeout - (Date.now() - started)),
          );
          timer.unref();
          secure.once('secureConnect', () => clearTimeout(timer)).once('close', () => clearTimeout(timer));
        }
        oncreate(null, secure);
      },
      (err: Error) => oncreate(err),
    );
    return undefined;
  };
  setAgentCreate(agent, create);
  if (plan.late) setAgentTuning(agent, plan.late);
  return agent;
}

/**
 * TLS over a dialed socket, within what is left of the dial's connectTimeout (the deadline covers the
 * handshake too); `done` is called exactly once, as undici's connector contract requires (its
 * nodejs/undici/lib/core/connect.js makes its own callback one-shot): with the TLS socket once it is secure, or
 * with the first error, never again for an error after the handshake (the socket's own 'error'
 * listeners see that one).
 */
function secureOver(
  socket: net.Socket,
  options: import('node:tls').ConnectionOptions,
  plan: DialPlan,
  started: number,
  done: (err: Error | null, secure: import('node:tls').TLSSocket | null) => void,
): void {
  const tls = require('node:tls') as typeof import('node:tls');
  let called = false;
  let timer: NodeJS.Timeout | undefined;
  const once = (err: Error | null, secure: import('node:tls').TLSSocket | null): void => {
    if (called) return;
    called = true;
    if (timer) clearTimeout(timer);
    done(err, secure);
  };
  const secure = tls.connect({ ...options, socket });
  secure.once('secureConnect', () => once(null, secure));
  secure.on('error', (err) => {
    if (called) return;
    secure.destroy();
    once(typed(err, plan.host, plan.port), null);
  });
  if (plan.connectTimeout !== undefined) {
    const left = Math.max(0, plan.connectTimeout - (Date.now() - started));
    timer = setTimeout(() => {
      const err = syscallError(
        os().constants.errno.ETIMEDOUT,
        'connect',
        { address: plan.host, port: plan.port },
        undefined,
        `no TLS session within ${plan.connectTimeout} ms (connectTimeout covers the lookup, the connection and the handshake)`,
      );
      secure.destroy();
      once(err, null);
    }, left);
    timer.unref();
  }
}

/** undici's connect options, the part used here. */
interface UndiciConnectOptions {
  hostname: string;
  host?: string;
  protocol: string;
  port: string | number;
  servername?: string | null;
  localAddress?: string | null;
  /** A socket to run TLS over (undici's proxy tunnels): refused, a dialer creates its own. */
  httpSocket?: unknown;
}

export interface DialConnectorOptions extends DialerOptions {
  /** TLS options for https origins (ca, rejectUnauthorized, ...), passed to tls.connect with the dialed socket. */
  tls?: import('node:tls').ConnectionOptions;
}

/**
 * An undici-style connector whose sockets come from dial(): `new undici.Agent({ connect:
 * knobs.dialConnector({ synRetries: 2 }) })`, so pools, fetch and ws clients get pre-connect options
 * too. https origins are wrapped in TLS (ALPN http/1.1) with the `tls` options given. It can be
 * observed (observe(connector)).
 */
export function dialConnector(options: DialConnectorOptions = {}): Connector<UndiciConnectOptions> {
  const given = readOptions(options, 'options', [...DIAL_FIELDS, 'tls'] as const);
  const { tls: tlsOptions, ...rest } = given;
  if (tlsOptions !== undefined && (tlsOptions === null || typeof tlsOptions !== 'object')) throw invalidType('options.tls', 'of type object', tlsOptions);
  const plan = compileDialer(rest);
  const connector: Connector<UndiciConnectOptions> = (connectOptions, callback) => {
    let destination: DialPlan;
    try {
      const port = Number(connectOptions.port || (connectOptions.protocol === 'https:' ? 443 : 80));
      destination = forRequest(plan, connectOptions as unknown as Record<string, unknown>, connectOptions.hostname, port, 'connectOptions');
    } catch (err) {
      callback(err as Error, null);
      return;
    }
    const started = Date.now();
    dialPlanned(destination).then(
      (socket) => {
        if (connectOptions.protocol !== 'https:') {
          callback(null, socket);
          return;
        }
        const servername = connectOptions.servername || (netModule().isIP(connectOptions.hostname) ? undefined : connectOptions.hostname);
        secureOver(
          socket,
          { ALPNProtocols: ['http/1.1'], ...(tlsOptions as object), ...(servername ? { servername } : {}) },
          destination,
          started,
          (err, secure) => (err ? callback(err, null) : callback(null, secure!)),
        );
      },
      (err: Error) => callback(err, null),
    );
  };
  return wrapConnector(connector);
}
