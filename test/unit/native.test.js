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
    expect(native.pidfdGetfd(-1, 0)).toBe(EBADF);
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
    pidfdGetfd: [0],
    netlinkOpen: ['ns'],
    netlinkSend: [0, new Int32Array(4)],
    netlinkReceive: [0, new Uint8Array(65537)],
    borrowInCgroups: [0, new Int32Array(1), new Int32Array(1), '', '', '', '', '', ''],
  };
  expect(Object.keys(calls).sort()).toEqual([...FUNCTIONS].sort());
  for (const [name, args] of Object.entries(calls)) {
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
