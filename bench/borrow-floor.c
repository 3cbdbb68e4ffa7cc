// The kernel work of the operator's tool's borrowing, alone (issue 28's budget): for each fd of
// process PID, what the addon's borrowRead threads do (src-native/socket_knobs.cc, BorrowAndRead):
// pidfd_getfd, fstat, on a socket each read given as LEVEL OPTION SIZE triples, close. One thread,
// no JavaScript, no diagnostics: the floor under `socket-knobs --pid` besides Node's start.
//   borrow-floor PID LEVEL OPTION SIZE [LEVEL OPTION SIZE ...] -> {"fds": N, "ms": M}
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char** argv) {
  if (argc < 2 || (argc - 2) % 3 != 0) return 2;
  const int pid = atoi(argv[1]);
  const int reads = (argc - 2) / 3;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", pid);
  DIR* dir = opendir(path);
  if (dir == NULL) return 1;
  int* fds = NULL;
  int count = 0, capacity = 0;
  for (struct dirent* e; (e = readdir(dir)) != NULL;) {
    if (e->d_name[0] == '.') continue;
    if (count == capacity) fds = realloc(fds, (capacity = capacity ? 2 * capacity : 1024) * sizeof *fds);
    fds[count++] = atoi(e->d_name);
  }
  closedir(dir);
  const int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) return 1;
  char buffer[512];
  const double start = now_ms();
  for (int i = 0; i < count; i++) {
    const int fd = (int)syscall(SYS_pidfd_getfd, pidfd, fds[i], 0);
    if (fd < 0) continue;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
      for (int r = 0; r < reads; r++) {
        socklen_t length = (socklen_t)atoi(argv[4 + 3 * r]);
        getsockopt(fd, atoi(argv[2 + 3 * r]), atoi(argv[3 + 3 * r]), buffer, &length);
      }
    }
    close(fd);
  }
  printf("{\"fds\": %d, \"ms\": %.1f}\n", count, now_ms() - start);
  return 0;
}
