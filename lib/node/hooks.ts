/**
 * The attachment layer's registry: one home for how socket-knobs holds on to Node's objects (a
 * socket, an http(s).Agent, a connector, a server). Plain hooks (onSocketClosing, whenConnected,
 * onAgentSocket, onPoolReturn, wrapConnector, onServerConnection, onServerSession,
 * onServerListening, claimServer): each object's state lives under a module-private symbol and is
 * installed once, however many features use it (tunings through lib/tuning/attach.ts, observe,
 * dial); features register and unregister, and never chain wrappers around each other. It knows
 * nothing of tunings, and holds what it watches weakly (the object itself, or a WeakMap).
 *
 * Its invariants (test/integration/attachment.test.js, test/fuzz/lifecycle.js):
 * - every wrapper composes: ours comes off only while it is still the outermost, so another copy's,
 *   an APM library's or another feature's stays;
 * - nothing a user lets go is kept: registrations die with their object;
 * - a callback never breaks Node's own code path: what it throws is a process warning.
 *
 * Nothing here makes a syscall; it decides when the features' callbacks run.
 */
export * from './socket-hooks';
export * from './agent-hooks';
export * from './connector-hooks';
export * from './server-hooks';
