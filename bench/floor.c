// The physical limit *inside a node process*: the same C loop as syscalls.c, run from a tiny
// N-API addon in the benchmark's own process. Syscalls cost more in a large process (TLB and cache
// refills after each kernel entry), so this row separates that cost from socket-knobs' own.
//   floor.loop(fd, kind, iterations) -> nanoseconds per call
//   kind: the index of the row's operation in ops.h (0 setKeepAlive ... 7 getsockopt)
#define NAPI_VERSION 8
#include <node_api.h>
#include <time.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

#include "ops.h"

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
  if (kind < 0 || kind >= BENCH_OPS) n = 0;
  for (int i = 0; i < n; i++) sink += kOps[kind](fd);
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
