// Compiled by test/types.test.js with the package's own .d.ts files (tsc --noEmit, strict): the
// public API's types are part of the contract. Lines marked @ts-expect-error must stay errors.
import * as https from 'node:https';
import * as net from 'node:net';
import knobs, {
  constants,
  getKeepAlive,
  getsockopt,
  isSupported,
  listen,
  probe,
  setKeepAlive,
  setsockopt,
  SocketOptionError,
  SyscallError,
  type KeepAlive,
  type ProbeResult,
  type Target,
  tune,
  getTuning,
  createTuner,
  tuneOnConnect,
  tuneAgent,
  tuneConnector,
  type Tuning,
  type TuningState,
  type Tuner,
  type Connector,
} from 'socket-knobs';

declare const socket: net.Socket;
const targets: Target[] = [socket, net.createServer(), 3];
setKeepAlive(socket, { idle: 60, interval: 10, count: 3 });
setKeepAlive(socket);
const state: KeepAlive = getKeepAlive(socket);
const n: number = getsockopt(socket, 'IPPROTO_TCP', 'TCP_KEEPCNT');
const bytes: Buffer = getsockopt(socket, 'SOL_SOCKET', 'SO_LINGER', 8);
setsockopt(socket, constants.IPPROTO_TCP!, 'TCP_NODELAY', true);
setsockopt(socket, 'SOL_SOCKET', 'SO_LINGER', Buffer.alloc(8));
const supported: boolean = isSupported('TCP_KEEPIDLE');
const probed: Record<string, ProbeResult> = probe();
const listening: Promise<net.Server> = listen(net.createServer(), { port: 0, reusePort: true });
knobs.setNoDelay(socket, true);

try {
  setKeepAlive(socket, { idle: 1 });
} catch (err) {
  if (err instanceof SyscallError) {
    const errno: number = err.errno;
    const applied: string[] | undefined = err.applied;
    void errno, applied;
  } else if (err instanceof SocketOptionError) {
    const code: string = err.code;
    void code;
  }
}

// @ts-expect-error: keepalive timings are numbers
setKeepAlive(socket, { idle: '60' });
// @ts-expect-error: unknown field
setKeepAlive(socket, { intervall: 5 });
// @ts-expect-error: a string is not a target
getKeepAlive('3');

void targets, state, n, bytes, supported, probed, listening;

// Tunings: the exact field names are the contract.
const tuning: Tuning = { keepAlive: { idle: 60, interval: 10, count: 3 }, userTimeout: 90_000, noDelay: true, linger: { enable: true, seconds: 0 }, receiveBufferSize: 65536, sendBufferSize: 65536 };
tune(socket, tuning);
tune(socket, { keepAlive: false });
const read: TuningState = getTuning(socket);
const idleRead: number | undefined = read.keepAlive.idle;
const tuner: Tuner = createTuner(tuning);
tuner.apply(socket);
const tunedSocket: net.Socket = tuneOnConnect(new net.Socket(), tuning);
const agent: https.Agent = tuneAgent(new https.Agent({ keepAlive: true }), tuning);
const connector: Connector = tuneConnector((options: unknown, callback: (err: Error | null, socket: net.Socket | null) => void) => callback(null, null), tuning);
// @ts-expect-error: a typo of keepAlive
tune(socket, { keepalive: { idle: 5 } });
void idleRead, tunedSocket, agent, connector;
