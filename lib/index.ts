/**
 * socket-knobs: exact kernel socket options for Node.js.
 *
 * What the package offers, and nothing else: each export lives in the module of its capability
 * (CONTRIBUTING.md draws the layers). Every function validates all its arguments before the first
 * syscall and throws a SocketOptionError subclass (docs/api.md).
 */

// Errors.
export { SocketOptionError, InvalidArgumentError, UnsupportedOptionError, SyscallError, SocketStateError } from './core/errors';

// The option table, the platform's constants and the addon.
export { OPTIONS, LEVELS, SOCKET_CONSTANTS } from './core/table';
export type { OptionRow, OptionName, LevelName, ConstantName, TuningPath } from './core/table';
export { constants, addonPath, addonLoadError as loadError } from './core/syscall';
export type { Target } from './node/target';
export type { Duration } from './core/units';

// One function per option, and raw access.
export {
  setKeepAlive,
  getKeepAlive,
  setReuseAddress,
  getReuseAddress,
  setReusePort,
  getReusePort,
  setNoDelay,
  getNoDelay,
  setUserTimeout,
  getUserTimeout,
  setReceiveBufferSize,
  getReceiveBufferSize,
  setSendBufferSize,
  getSendBufferSize,
  setLinger,
  getLinger,
  setCongestionControl,
  getCongestionControl,
} from './options/sockopt';
export type { KeepAliveOptions, KeepAlive, Linger } from './options/values';
export { setsockopt, getsockopt, isSupported } from './options/raw';
export { getTcpInfo } from './options/tcpinfo';
export type { TcpInfo } from './options/tcpinfo';
export { probe } from './options/probe';
export type { ProbeResult } from './options/probe';

// Tunings: the knobs set together.
export { tune, createTuner } from './tuning/apply';
export { getTuning } from './tuning/readback';
export type { Tuning } from './tuning/tuning';
export type { TuningState } from './tuning/readback';
export type { Tuner } from './tuning/apply';

// Clients: sockets the application does not create itself.
export { tuneOnConnect, tuneAgent, tuneConnector } from './clients';
export type { AnyConnector, Connector, ConnectorCallback } from './clients';

// Servers: a tuning that holds on every accepted socket, whatever the arrangement.
export { tuneServer, tuneServers } from './servers';
export type { ServerTuner, ServerTuningMode, ServersTuner, TuneServersOptions } from './servers';

// Observing: TCP_INFO over every connection of a server, an agent, a connector or a socket.
export { observe, observeServers } from './observe';
export type { Observer, ObserveOptions, ObserveServersOptions, TcpSample } from './observe';

// The operator's view of another process's TCP sockets (npx socket-knobs --pid).
export { inspectProcess, findSockets } from './inspect';
export type {
  InspectedConnection,
  InspectOptions,
  InspectResult,
  InspectSummary,
  SocketFilter,
  TuningCount,
  PortSocket,
  FindSocketsOptions,
  SocketMemory,
  MptcpInfo,
} from './inspect';

// Dial: client sockets with options set before connect() (SYN retries, Fast Open, MPTCP...).
export { dial, dialAgent, dialConnector } from './dial';
export type { DialOptions, DialerOptions, DialConnectorOptions } from './dial';

// Listening sockets with options set before bind().
export { listen, createListeningSocket } from './listen';
export type { ListenOptions } from './listen';
