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

static int set_int(int fd, int level, int option, int value) {
  return setsockopt(fd, level, option, &value, sizeof value);
}

static int get_int(int fd, int level, int option) {
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, level, option, &value, &len) != 0) return -1;
  return value;
}

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
  double t0, t1, t2, t3, t4, t5, t6;
  unsigned char info[512];
  // Warm up the code paths once.
  for (long i = 0; i < 1000; i++) sink += set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);

  t0 = now_ns();
  for (long i = 0; i < iterations; i++) {
    // setKeepAlive({ enable: true, idle: 60, interval: 10, count: 3 })
    sink += set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    sink += set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 60);
    sink += set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 10);
    sink += set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 3);
  }
  t1 = now_ns();
  for (long i = 0; i < iterations; i++) {
    // getKeepAlive()
    sink += get_int(fd, SOL_SOCKET, SO_KEEPALIVE);
    sink += get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE);
    sink += get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL);
    sink += get_int(fd, IPPROTO_TCP, TCP_KEEPCNT);
  }
  t2 = now_ns();
  for (long i = 0; i < iterations; i++) sink += set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 3);  // setsockopt
  t3 = now_ns();
  for (long i = 0; i < iterations; i++) sink += set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);  // setReuseAddress
  t4 = now_ns();
  for (long i = 0; i < iterations; i++) {
    // tune({ keepAlive: { idle: 60, interval: 10, count: 3 }, userTimeout: 45000, noDelay: true })
    sink += set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    sink += set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 60);
    sink += set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 10);
    sink += set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 3);
    sink += set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 45000);
    sink += set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  }
  t5 = now_ns();
  for (long i = 0; i < iterations; i++) {
    // getTcpInfo(): one getsockopt(TCP_INFO) into a 512-byte buffer
    socklen_t info_len = sizeof info;
    sink += getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, &info_len) + (int)info_len;
  }
  t6 = now_ns();

  printf("{\"setKeepAlive\":%.1f,\"getKeepAlive\":%.1f,\"setsockopt\":%.1f,\"setReuseAddress\":%.1f,\"tune\":%.1f,\"getTcpInfo\":%.1f,\"sink\":%d}\n",
         (t1 - t0) / iterations, (t2 - t1) / iterations, (t3 - t2) / iterations, (t4 - t3) / iterations, (t5 - t4) / iterations, (t6 - t5) / iterations, sink);
  close(peer);
  close(fd);
  close(listener);
  return 0;
}
