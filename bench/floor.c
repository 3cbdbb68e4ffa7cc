// The physical limit *inside a node process*: the same C loop as syscalls.c, run from a tiny
// N-API addon in the benchmark's own process. Syscalls cost more in a large process (TLB and cache
// refills after each kernel entry), so this row separates that cost from socket-knobs' own.
//   floor.loop(fd, kind, iterations) -> nanoseconds per call
//   kind 0: setKeepAlive's 4 setsockopt, 1: getKeepAlive's 4 getsockopt, 2: one setsockopt,
//   3: SO_REUSEADDR
#define NAPI_VERSION 8
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <node_api.h>
#include <sys/socket.h>
#include <time.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int set_int(int fd, int level, int option, int value) {
  return setsockopt(fd, level, option, &value, sizeof value);
}

static int get_int(int fd, int level, int option) {
  int value = 0;
  socklen_t len = sizeof value;
  getsockopt(fd, level, option, &value, &len);
  return value;
}

static napi_value Loop(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd = -1, kind = 0, n = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_int32(env, argv[0], &fd);
  napi_get_value_int32(env, argv[1], &kind);
  napi_get_value_int32(env, argv[2], &n);
  volatile int sink = 0;
  double t0 = now_ns();
  for (int i = 0; i < n; i++) {
    switch (kind) {
      case 0:
        sink += set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
        sink += set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 60);
        sink += set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 10);
        sink += set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 3);
        break;
      case 1:
        sink += get_int(fd, SOL_SOCKET, SO_KEEPALIVE);
        sink += get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE);
        sink += get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL);
        sink += get_int(fd, IPPROTO_TCP, TCP_KEEPCNT);
        break;
      case 2:
        sink += set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 3);
        break;
      case 4:
        sink += set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
        sink += set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 60);
        sink += set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 10);
        sink += set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 3);
        sink += set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 45000);
        sink += set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
        break;
      case 5: {
        unsigned char info[512];
        socklen_t info_len = sizeof info;
        sink += getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, &info_len) + (int)info_len;
        break;
      }
      default:
        sink += set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    }
  }
  double per = n > 0 ? (now_ns() - t0) / n : 0;
  napi_value result;
  napi_create_double(env, per, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "loop", NAPI_AUTO_LENGTH, Loop, NULL, &fn);
  napi_set_named_property(env, exports, "loop", fn);
  return exports;
}
