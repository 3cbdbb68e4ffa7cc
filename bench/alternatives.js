'use strict';
// The alternatives a user would reach for instead of socket-knobs, for `npm run bench`: Node's own
// setKeepAlive with net-keepalive for the rest, and setsockopt by hand through koffi (an FFI).
const knobs = require('..');

/** The alternatives a user would reach for; each is skipped with the reason if it cannot load. */
function alternatives(socket) {
  const rows = {};
  const skipped = {};
  try {
    const NK = require('net-keepalive');
    // Node's own setKeepAlive sets the idle time (and forces interval 1, count 10); net-keepalive
    // then sets interval and count through ffi-rs. Node skips a repeated identical call, so the
    // delay alternates to make every call reach the kernel, as a real per-connection call would.
    rows['net-keepalive + socket.setKeepAlive'] = {
      compare: 'setKeepAlive',
      fn: (i) => {
        socket.setKeepAlive(true, i & 1 ? 61000 : 60000);
        NK.setKeepAliveInterval(socket, 10000);
        NK.setKeepAliveProbes(socket, 3);
      },
    };
    rows['net-keepalive get (interval + count only)'] = {
      compare: 'getKeepAlive',
      fn: () => NK.getKeepAliveInterval(socket) + NK.getKeepAliveProbes(socket),
    };
  } catch (err) {
    skipped['net-keepalive'] = err.message.split('\n')[0];
  }
  try {
    const koffi = require('koffi');
    const libc = koffi.load(process.platform === 'darwin' ? 'libc.dylib' : 'libc.so.6');
    const setsockopt = libc.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)');
    const getsockopt = libc.func('int getsockopt(int fd, int level, int name, _Out_ void *value, _Inout_ uint32_t *len)');
    const c = knobs.constants;
    const value = new Int32Array(1);
    const len = [4];
    const set = (fd, level, name, v) => {
      value[0] = v;
      return setsockopt(fd, level, name, value, 4);
    };
    const get = (fd, level, name) => {
      len[0] = 4;
      getsockopt(fd, level, name, value, len);
      return value[0];
    };
    rows['koffi setsockopt by hand (4 calls)'] = {
      compare: 'setKeepAlive',
      fn: () => {
        const fd = socket._handle.fd;
        set(fd, c.SOL_SOCKET, c.SO_KEEPALIVE, 1);
        set(fd, c.IPPROTO_TCP, c.TCP_KEEPIDLE, 60);
        set(fd, c.IPPROTO_TCP, c.TCP_KEEPINTVL, 10);
        set(fd, c.IPPROTO_TCP, c.TCP_KEEPCNT, 3);
      },
    };
    rows['koffi getsockopt by hand (4 calls)'] = {
      compare: 'getKeepAlive',
      fn: () => {
        const fd = socket._handle.fd;
        return (
          get(fd, c.SOL_SOCKET, c.SO_KEEPALIVE) +
          get(fd, c.IPPROTO_TCP, c.TCP_KEEPIDLE) +
          get(fd, c.IPPROTO_TCP, c.TCP_KEEPINTVL) +
          get(fd, c.IPPROTO_TCP, c.TCP_KEEPCNT)
        );
      },
    };
  } catch (err) {
    skipped.koffi = err.message.split('\n')[0];
  }
  return { rows, skipped };
}

module.exports = { alternatives };
