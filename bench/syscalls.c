// The physical limit for `npm run bench`: the same syscalls socket-knobs makes, in a C loop, on a
// connected loopback TCP socket. Prints nanoseconds per call for each row as one JSON line.
//   usage: syscalls ITERATIONS
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void check(int rc, const char* what) {
  if (rc != 0) {
    perror(what);
    exit(1);
  }
}

#include "ops.h"

int main(int argc, char** argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 100000;
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  check(bind(listener, (struct sockaddr*)&addr, sizeof addr), "bind");
  check(listen(listener, 1), "listen");
  check(getsockname(listener, (struct sockaddr*)&addr, &len), "getsockname");
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(connect(fd, (struct sockaddr*)&addr, sizeof addr), "connect");
  int peer = accept(listener, NULL, NULL);

  volatile int sink = 0;
  // Warm up the code paths once.
  for (long i = 0; i < 1000; i++) sink += op_reuse_address(fd);

  // One JSON line: nanoseconds per call of each row's operation.
  printf("{");
  for (int op = 0; op < BENCH_OPS; op++) {
    double t0 = now_ns();
    for (long i = 0; i < iterations; i++) sink += kOps[op](fd);
    printf("\"%s\":%.1f,", kOpNames[op], (now_ns() - t0) / iterations);
  }
  printf("\"sink\":%d}\n", sink);
  close(peer);
  close(fd);
  close(listener);
  return 0;
}
