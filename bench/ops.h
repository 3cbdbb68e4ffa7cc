// The syscalls each benchmark row makes, one call's worth each: shared by the standalone C loop
// (syscalls.c) and the same loop inside the node process (floor.c), so both measure exactly what
// socket-knobs does for that row. Indexed by the `kind` numbers of floor.c and bench/run.js.
#pragma once
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static int set_int(int fd, int level, int option, int value) {
  return setsockopt(fd, level, option, &value, sizeof value);
}

static int get_int(int fd, int level, int option) {
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, level, option, &value, &len) != 0) return -1;
  return value;
}

// 0: setKeepAlive({ enable: true, idle: 60, interval: 10, count: 3 })
static int op_set_keepalive(int fd) {
  return set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1) + set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 60) +
         set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 10) + set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 3);
}

// 1: getKeepAlive()
static int op_get_keepalive(int fd) {
  return get_int(fd, SOL_SOCKET, SO_KEEPALIVE) + get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE) +
         get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL) + get_int(fd, IPPROTO_TCP, TCP_KEEPCNT);
}

// 2: setsockopt('IPPROTO_TCP', 'TCP_KEEPCNT', 3)
static int op_setsockopt(int fd) { return set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 3); }

// 3: setReuseAddress(true)
static int op_reuse_address(int fd) { return set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1); }

// 4: tune({ keepAlive: { idle: 60, interval: 10, count: 3 }, userTimeout: 45000, noDelay: true })
static int op_tune(int fd) {
  return op_set_keepalive(fd) + set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 45000) + set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
}

// 5: getTcpInfo(): one getsockopt(TCP_INFO) into a 512-byte buffer
static int op_tcp_info(int fd) {
  unsigned char info[512];
  socklen_t len = sizeof info;
  return getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, &len) + (int)len;
}

// 6: getReuseAddress()
static int op_get_reuse_address(int fd) { return get_int(fd, SOL_SOCKET, SO_REUSEADDR); }

// 7: getsockopt('IPPROTO_TCP', 'TCP_KEEPCNT')
static int op_getsockopt(int fd) { return get_int(fd, IPPROTO_TCP, TCP_KEEPCNT); }

typedef int (*bench_op)(int fd);
static const bench_op kOps[] = {op_set_keepalive, op_get_keepalive, op_setsockopt,         op_reuse_address,
                                op_tune,          op_tcp_info,      op_get_reuse_address, op_getsockopt};
static const char* const kOpNames[] = {"setKeepAlive", "getKeepAlive", "setsockopt",      "setReuseAddress",
                                       "tune",         "getTcpInfo",   "getReuseAddress", "getsockopt"};
#define BENCH_OPS ((int)(sizeof kOps / sizeof kOps[0]))
