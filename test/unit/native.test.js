'use strict';
// The door to the addon: the functions it exports and the batch layout it reads are the ones the
// façade (lib/core/native.ts, lib/core/syscall.ts) believes in, every function answers in the one
// result type (>= 0 a result, < 0 the negated errno), and wrong argument types take the one
// failure path (a TypeError naming the signature), never a crash.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const { EMULATED, emulated, testIf } = require('../helpers');

const root = path.join(__dirname, '..', '..');
const { native, FUNCTIONS, BATCH_LAYOUT } = require('../../dist/modules/core/native.js');
const { BATCH } = require('../../dist/modules/core/syscall.js');
const source = fs.readFileSync(path.join(root, 'src-native', 'socket_knobs.cc'), 'utf8');

const EBADF = -os.constants.errno.EBADF;

test('the addon exports exactly the functions lib/core/native.ts lists, in kExports order, and its two data objects', () => {
  const table = source.slice(source.indexOf('const Export kExports[] = {'));
  const cxx = [...table.slice(0, table.indexOf('};')).matchAll(/\{"(\w+)", Wrap</g)].map((m) => m[1]);
  expect(cxx).toEqual(FUNCTIONS);
  const exported = Object.keys(native).sort();
  expect(exported).toEqual([...FUNCTIONS, 'batchLayout', 'constants'].sort());
  for (const name of FUNCTIONS) expect(typeof native[name]).toBe('function');
});

test("the addon's batch layout is the one the façade writes (BATCH), and the C++ constants it comes from", () => {
  expect({ ...native.batchLayout }).toEqual({ ...BATCH_LAYOUT });
  for (const key of Object.keys(BATCH_LAYOUT)) expect(BATCH[key]).toBe(native.batchLayout[key]);
  const cxx = Object.fromEntries([...source.matchAll(/\{"(\w+)", static_cast<int>\((k\w+)\)\}/g)].map((m) => [m[1], m[2]]));
  expect(Object.keys(cxx).sort()).toEqual(Object.keys(BATCH_LAYOUT).sort());
});

describe('one result type: >= 0 a result, < 0 the negated errno', () => {
  const io = new Int32Array(BATCH.HEADER + BATCH.OP_WIDTH * 2);
  const bytes = new Uint8Array(16); // kept: a slot whose arrays were collected is refused
  const slot = native.bindScratch(io, bytes);
  const c = native.constants;
  let server;
  let client;
  beforeAll(async () => {
    server = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    client = net.connect(server.address().port, '127.0.0.1');
    await new Promise((resolve) => client.once('connect', resolve));
  });
  afterAll(() => {
    expect(io.length + bytes.length).toBeGreaterThan(0); // (a use, so that neither is collected before)
    client.destroy();
    server.close();
  });
  const put = (i, level, option, value) => {
    const at = BATCH.HEADER + BATCH.OP_WIDTH * i;
    io[at + BATCH.LEVEL] = level;
    io[at + BATCH.OPTION] = option;
    io[at + BATCH.VALUE] = value;
  };

  test('a batch: 0 and every operation done; the failing one: -errno, and DONE counts those before it', () => {
    const fd = client._handle.fd;
    put(0, c.IPPROTO_TCP, c.TCP_KEEPCNT, 7);
    put(1, c.IPPROTO_TCP, c.TCP_KEEPINTVL, 3);
    expect(native.setInts(slot, fd, 2)).toBe(0);
    expect(io[BATCH.DONE]).toBe(2);
    put(0, c.IPPROTO_TCP, c.TCP_KEEPCNT, 0);
    put(1, c.IPPROTO_TCP, c.TCP_KEEPINTVL, 0);
    expect(native.getInts(slot, fd, 2)).toBe(0);
    expect([io[BATCH.HEADER + BATCH.VALUE], io[BATCH.HEADER + BATCH.OP_WIDTH + BATCH.VALUE]]).toEqual([7, 3]);
    put(0, c.IPPROTO_TCP, c.TCP_KEEPCNT, 5);
    put(1, c.IPPROTO_TCP, c.TCP_KEEPCNT, -1); // the kernel refuses: EINVAL
    expect(native.setInts(slot, fd, 2)).toBe(-os.constants.errno.EINVAL);
    expect(io[BATCH.DONE]).toBe(1);
    expect(native.setInts(slot, -1, 1)).toBe(EBADF);
    expect(io[BATCH.DONE]).toBe(0);
  });

  test('bytes, sockets and processes: the length, fd or 0, else -errno', () => {
    const fd = client._handle.fd;
    const linger = new Uint8Array(8);
    expect(native.getBytes(fd, c.SOL_SOCKET, c.SO_LINGER, linger)).toBe(8);
    expect(native.getBytes(-1, c.SOL_SOCKET, c.SO_LINGER, linger)).toBe(EBADF);
    expect(native.setBytes(fd, c.SOL_SOCKET, c.SO_LINGER, linger)).toBe(0);
    expect(native.setBytes(-1, c.SOL_SOCKET, c.SO_LINGER, linger)).toBe(EBADF);
    // Clamped to the scratch's size (qemu-user passes 4 bytes of TCP_INFO through: fewer, never more).
    const length = native.getScratchBytes(slot, fd, c.IPPROTO_TCP, c.TCP_INFO);
    if (emulated('TCP_INFO')) expect(length).toBeLessThanOrEqual(16);
    else expect(length).toBe(16);
    expect(native.getScratchBytes(slot, -1, c.IPPROTO_TCP, c.TCP_INFO)).toBe(EBADF);
    const own = native.openSocket(c.AF_INET, c.SOCK_STREAM, 0);
    expect(own).toBeGreaterThan(2);
    expect(native.bindSocket(own, c.AF_INET, 'not an address', 0, 0)).toBe(-os.constants.errno.EINVAL);
    expect(native.bindSocket(own, c.AF_INET, '127.0.0.1', 0, 0)).toBe(0);
    expect(native.listenSocket(own, 4)).toBe(0);
    expect(native.closeSocket(own)).toBe(0);
    expect(native.closeSocket(own)).toBe(EBADF);
    expect(native.listenSocket(-1, 4)).toBe(EBADF);
    expect(native.openSocket(-5, c.SOCK_STREAM, 0)).toBe(-os.constants.errno.EAFNOSUPPORT);
    expect(native.netlinkOpen(-1 >>> 1)).toBe(EBADF); // setns on an fd that is not open
    expect(native.netlinkSend(-1, new Uint8Array(16))).toBe(EBADF);
    expect(native.netlinkReceive(-1, new Uint8Array(16))).toBe(EBADF);
  });

  testIf(
    process.platform !== 'linux'
      ? 'NETLINK_SOCK_DIAG is Linux-only'
      : EMULATED
        ? 'qemu-user has no NETLINK_SOCK_DIAG (EPROTONOSUPPORT; the inspector falls back to /proc there)'
        : null,
    'socket diagnostics: a netlink socket in this namespace answers a dump; a datagram that does not fit is -EMSGSIZE, not cut',
    () => {
      const nl = native.netlinkOpen(-1);
      expect(nl).toBeGreaterThan(2);
      try {
        // SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP: every IPv4 TCP socket, no extensions.
        const request = new Uint8Array(72);
        const v = new DataView(request.buffer);
        v.setUint32(0, 72, true);
        v.setUint16(4, 20, true);
        v.setUint16(6, 0x301, true);
        request[16] = c.AF_INET;
        request[17] = c.IPPROTO_TCP;
        v.setUint32(20, 0xffffffff, true);
        expect(native.netlinkSend(nl, request)).toBe(72);
        // This process's client and server connection are there: the first reply holds at least one
        // inet_diag_msg (16 + 72 bytes); 8 bytes cannot hold it.
        expect(native.netlinkReceive(nl, new Uint8Array(8))).toBe(-os.constants.errno.EMSGSIZE);
        const fresh = native.netlinkOpen(-1);
        try {
          expect(native.netlinkSend(fresh, request)).toBe(72);
          expect(native.netlinkReceive(fresh, new Uint8Array(65536))).toBeGreaterThanOrEqual(88);
        } finally {
          native.closeSocket(fresh);
        }
      } finally {
        native.closeSocket(nl);
      }
    },
  );
});

describe("borrowRead: every fd borrowed, read and closed on the addon's threads", () => {
  const c = native.constants;
  const reason = process.platform !== 'linux' ? 'pidfd_getfd is Linux-only' : null;
  /** The fds open in this process (each borrowed copy must be gone after finishBorrowRead). */
  const openFds = () => fs.readdirSync('/proc/self/fd').length;
  /** borrowRead of `fds` of this process with one read (SO_TYPE, an int); finished; its rows. */
  function borrowOwn(fds, reads = [c.SOL_SOCKET, c.SO_TYPE, 4]) {
    const pidfd = native.pidfdOpen(process.pid);
    expect(pidfd).toBeGreaterThan(2);
    const stride = 4 + 2 * (reads.length / 3);
    const out = new Int32Array(stride * fds.length);
    const status = new Int32Array(8);
    try {
      expect(native.borrowRead(pidfd, Int32Array.from(fds), Int32Array.from(reads), out, stride, status, '', '', '', '', '', '')).toBe(0);
      expect(native.finishBorrowRead()).toBe(0);
    } finally {
      native.closeSocket(pidfd);
    }
    expect([...status]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    return Array.from({ length: fds.length }, (_, i) => out.subarray(i * stride, (i + 1) * stride));
  }

  testIf(reason, 'a socket gives its inode and its reads, a file only its inode, a closed fd -EBADF; no copy is left open', () => {
    const sock = native.openSocket(c.AF_INET, c.SOCK_STREAM, 0);
    const file = fs.openSync(__filename, 'r');
    const closed = 1 << 20; // no such fd here (as one closed since /proc/PID/fd was read)
    try {
      const before = openFds();
      const [s, f, gone] = borrowOwn([sock, file, closed]);
      expect(openFds()).toBe(before);
      expect([s[0], s[1] + s[2] * 2 ** 32, s[3], s[4], s[5]]).toEqual([0, fs.fstatSync(sock).ino, 1, 4, c.SOCK_STREAM]);
      expect([f[0], f[1], f[3], f[4]]).toEqual([0, fs.fstatSync(file).ino, 0, 0]);
      expect(gone[0]).toBe(EBADF);
    } finally {
      native.closeSocket(sock);
      fs.closeSync(file);
    }
  });

  testIf(reason, 'thousands of fds on several threads: each row is its own fd, and every copy is closed (exactly once, nothing retained)', () => {
    const sockets = Array.from({ length: 8 }, (_, i) => native.openSocket(c.AF_INET, i % 2 ? c.SOCK_DGRAM : c.SOCK_STREAM, 0));
    try {
      const fds = Array.from({ length: 3000 }, (_, i) => sockets[(i * 7) % sockets.length]);
      const before = openFds();
      const rows = borrowOwn(fds);
      expect(openFds()).toBe(before);
      rows.forEach((row, i) => {
        expect(row[1]).toBe(fs.fstatSync(fds[i]).ino);
        expect(row[5]).toBe(sockets.indexOf(fds[i]) % 2 ? c.SOCK_DGRAM : c.SOCK_STREAM);
      });
    } finally {
      sockets.forEach((fd) => native.closeSocket(fd));
    }
  });

  testIf(reason, 'one at a time: a second borrowRead before finishBorrowRead is refused (TypeError), then allowed', () => {
    const pidfd = native.pidfdOpen(process.pid);
    const args = () => [pidfd, new Int32Array([pidfd]), new Int32Array(0), new Int32Array(4), 4, new Int32Array(8), '', '', '', '', '', ''];
    try {
      expect(native.borrowRead(...args())).toBe(0);
      expect(() => native.borrowRead(...args())).toThrow(/already running/);
      expect(native.finishBorrowRead()).toBe(0);
      expect(native.borrowRead(...args())).toBe(0);
      expect(native.finishBorrowRead()).toBe(0);
    } finally {
      native.closeSocket(pidfd);
    }
  });

  testIf(reason, 'a worker torn down while its borrowRead runs: the threads are waited for, nothing crashes, no copy is left', () => {
    // Twice 20 workers (5 under an emulator), each left with its pidfd open (never closed there):
    // without borrowRead, then with one running on 20,000 fds when the worker is terminated. The fds
    // left over must be the same.
    const WORKERS = EMULATED ? 5 : 20;
    const script = `
      const { Worker } = require('node:worker_threads');
      const fs = require('node:fs');
      const count = () => fs.readdirSync('/proc/self/fd').length;
      function round(borrow) {
        const before = count();
        return Promise.all(Array.from({ length: ${WORKERS} }, () => new Promise((resolve) => {
          const worker = new Worker(\`
            const { native } = require(\${JSON.stringify(process.cwd() + '/dist/modules/core/native.js')});
            const pidfd = native.pidfdOpen(process.pid);
            const fds = new Int32Array(${WORKERS * 1000}).fill(pidfd);
            if (\${borrow}) native.borrowRead(pidfd, fds, new Int32Array(0), new Int32Array(4 * fds.length), 4, new Int32Array(8), '', '', '', '', '', '');
            require('node:worker_threads').parentPort.postMessage('started');\`, { eval: true });
          worker.once('message', () => worker.terminate());
          worker.once('exit', resolve);
        }))).then(() => count() - before);
      }
      round(false).then((without) => round(true).then((withBorrow) => console.log(JSON.stringify({ without, withBorrow }))));`;
    const out = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 60000 });
    expect(out.status).toBe(0);
    expect(out.stderr).toBe('');
    const { without, withBorrow } = JSON.parse(out.stdout);
    // (A worker's own fds close a tick apart: the two rounds differ by one at times; a copy left per
    // terminated worker would be one more per worker.)
    expect(withBorrow).toBeLessThanOrEqual(without + 2);
  });
});

test('wrong argument types take the one failure path: a TypeError with the signature, for every function', () => {
  const calls = {
    bindScratch: [new Uint8Array(4), new Uint8Array(4)],
    setInts: [0, 'fd', 1],
    getInts: [-1, 0, 1],
    getScratchBytes: [99999, 0, 0, 0],
    setBytes: [0, 0, 0, new Int32Array(2)],
    getBytes: [0, 0, 0],
    openSocket: [1, 1],
    bindSocket: [0, 2, 'x'.repeat(100), 0, 0],
    listenSocket: [{}, 1],
    closeSocket: [],
    pidfdOpen: [null],
    netlinkOpen: ['ns'],
    netlinkSend: [0, new Int32Array(4)],
    netlinkReceive: [0, new Uint8Array(65537)],
    // A stride too small for its reads: refused before any thread starts.
    borrowRead: [0, new Int32Array(1), new Int32Array([1, 2, 4]), new Int32Array(8), 4, new Int32Array(8), '', '', '', '', '', ''],
    finishBorrowRead: null, // takes nothing: it cannot be called wrongly (0 whatever it is given)
  };
  expect(Object.keys(calls).sort()).toEqual([...FUNCTIONS].sort());
  expect(native.finishBorrowRead('anything')).toBe(0);
  for (const [name, args] of Object.entries(calls)) {
    if (args === null) continue;
    let thrown;
    try {
      native[name](...args);
    } catch (err) {
      thrown = err;
    }
    expect(thrown?.name).toBe('TypeError'); // (the addon's realm: not jest's TypeError)
    expect(thrown.message).toMatch(new RegExp(`^${name}\\(`));
  }
  // A batch longer than its slot's array is refused, not read past.
  const kept = [new Int32Array(BATCH.HEADER + BATCH.OP_WIDTH), new Uint8Array(1)];
  const slot = native.bindScratch(kept[0], kept[1]);
  expect(() => native.setInts(slot, 0, 2)).toThrow(/^setInts\(slot, fd, count\)/);
  expect(native.setInts(slot, -1, 0)).toBe(0);
  expect(kept[0][BATCH.DONE]).toBe(0);
});

test('a slot whose arrays were collected is refused (TypeError), never written: no use after free through the binding', () => {
  const script = `
    const { native } = require('./dist/modules/core/native.js');
    const slots = [];
    for (let i = 0; i < 50; i++) slots.push(native.bindScratch(new Int32Array(16), new Uint8Array(16)));
    global.gc();
    const refused = { setInts: 0, getInts: 0, getScratchBytes: 0 };
    for (const slot of slots) {
      const calls = { setInts: () => native.setInts(slot, -1, 1), getInts: () => native.getInts(slot, -1, 1), getScratchBytes: () => native.getScratchBytes(slot, -1, 0, 0) };
      for (const [name, call] of Object.entries(calls)) {
        try { call(); } catch (err) { if (err instanceof TypeError) refused[name]++; }
      }
    }
    console.log(JSON.stringify(refused));`;
  const out = spawnSync(process.execPath, ['--expose-gc', '-e', script], { cwd: root, encoding: 'utf8', timeout: 20000 });
  expect(out.stderr).toBe('');
  // (The last array or two may still be held by the stack when gc() runs: nearly all, not all.)
  const refused = JSON.parse(out.stdout);
  for (const count of Object.values(refused)) expect(count).toBeGreaterThanOrEqual(45);
  expect(refused.setInts).toBe(refused.getScratchBytes);
});

test('a binary whose batch layout differs is refused at load (a stale build), with the reason, and every call then throws ERR_SOCKET_KNOBS_NO_ADDON', () => {
  // A child process whose loader hands back this addon with another layout, as a stale binary of
  // an older version would export it.
  const script = `
    const Module = require('node:module');
    const load = Module._extensions['.node'];
    Module._extensions['.node'] = (module, file) => {
      load(module, file);
      module.exports = { ...module.exports, batchLayout: { ...module.exports.batchLayout, HEADER: 2 } };
    };
    const knobs = require('./');
    let code;
    try { knobs.getsockopt(0, 'SOL_SOCKET', 'SO_TYPE'); } catch (err) { code = err.code; }
    console.log(JSON.stringify({ loadError: knobs.loadError(), code }));`;
  const out = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 20000 });
  expect(out.stderr).toBe('');
  const result = JSON.parse(out.stdout);
  expect(result.loadError).toMatch(/is not this version's addon \(its batch layout differs in HEADER\): rebuild it/);
  expect(result.code).toBe('ERR_SOCKET_KNOBS_NO_ADDON');
});
