// socket-knobs native core: the syscalls and the #ifdef support table, nothing else.
// (setsockopt/getsockopt on any fd; socket/bind/listen/close for the sockets socket-knobs creates
// itself, whose options must be set before bind or connect; pidfd_open/pidfd_getfd to read another
// process's sockets; a NETLINK_SOCK_DIAG socket, opened in another process's network namespace,
// and one datagram sent or received on it, for the socket diagnostics `ss` reads.)
//
// Validation, defaults, units and error typing live in the TypeScript façade (lib/). One shape for
// every function (node-addon-api, `Napi::Value F(const Napi::CallbackInfo&)`):
//   - its arguments are read through one reader (Args), which checks types and lengths;
//   - it returns one int32: >= 0 is its result (0, an fd, a length), < 0 the negated errno. It
//     never throws for a kernel error, never aborts, and never reads or writes past the typed arrays
//     it is handed (lengths are checked against what the caller claims);
//   - the one failure path (Args::Fail) is a TypeError naming its signature, reachable only by
//     calling the binding directly with wrong types: the façade validates.
// There is no global mutable state, so the addon is safe in worker threads.
//
// Batch layout (exported as `batchLayout`; lib/core/syscall.ts names it BATCH and refuses a binary
// whose layout differs): one Int32Array `io` allocated once per thread and bound once
// (bindScratch), so the hot calls pass only ints:
//   io[0]  out: how many operations succeeded (before the one that failed, if one did)
//   io[1 + 3*i .. 3 + 3*i]  operation i: level, option, value (value is in for set, out for get)
// One crossing then applies a whole keepalive configuration, which the benchmark shows pays
// (four syscalls behind one N-API call instead of four calls).

#include <napi.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>

#include <cstdlib>
#include <cstdio>
#include <cstring>

#ifdef _WIN32
// Node's sockets on Windows are not file descriptors (Node exposes no handle), so the façade refuses
// them before reaching here; what runs here is probe() and the raw calls on a SOCKET given by number.
// Errors are Winsock's (WSAE*), named by the façade (lib/core/errors.ts).
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mstcpip.h>
typedef SOCKET SocketHandle;
static int LastSocketError() { return WSAGetLastError(); }
static int CloseSocket(SocketHandle fd) { return closesocket(fd); }
#else
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#endif
typedef int SocketHandle;
static int LastSocketError() { return errno; }
static int CloseSocket(SocketHandle fd) { return close(fd); }
#endif

// Headers older than the platform's SDK (or kernel) are completed from its documented values, so
// that a name the platform defines is exported (hasattr) even where the build machine's copy of the
// header predates it; a kernel that lacks the option refuses it at run time, typed.
// (test/release/support-table.test.js compiles this block too: keep it between the markers.)
// completions:begin
#if defined(__linux__) && !defined(TCP_IS_MPTCP)
#define TCP_IS_MPTCP 43  // include/uapi/linux/tcp.h (in the headers since Linux 6.7)
#endif
#if defined(_WIN32)
// ws2ipdef.h of the Windows SDK; MinGW's copy (zig 0.11's) lacks them. TCP_MAXSEG: Windows 10+
// (read-only there); TCP_FASTOPEN: Windows 10 1607+; TCP_KEEPIDLE (= TCP_KEEPALIVE), TCP_KEEPCNT and
// TCP_KEEPINTVL: Windows 10 1709 (10.0.16299)+. An older Windows refuses them (WSAENOPROTOOPT), typed.
#ifndef TCP_KEEPIDLE
#define TCP_KEEPIDLE 3
#endif
#ifndef TCP_MAXSEG
#define TCP_MAXSEG 4
#endif
#ifndef TCP_FASTOPEN
#define TCP_FASTOPEN 15
#endif
#ifndef TCP_KEEPCNT
#define TCP_KEEPCNT 16
#endif
#ifndef TCP_KEEPINTVL
#define TCP_KEEPINTVL 17
#endif
#endif
// completions:end

namespace {

struct KnownConstant {
  const char* name;
  int value;
};

#include "source.gen.h"
#include "table.gen.h"

// The hash of the sources this binary is built from, read from its file before publishing
// (scripts/check-prebuilds.js): a stale prebuild is refused.
const char kSourceHash[] = SOCKET_KNOBS_SOURCE;

// kDefinedNames and kSourceHash are read from the binary's file (scripts/support.js), never at run
// time. Init takes their addresses in an empty asm statement, so that neither the compiler nor a
// dead-stripping linker (macOS) can drop them.
inline void KeepDefinedNames() {
#if defined(__GNUC__) || defined(__clang__)
  __asm__ volatile("" : : "r"(kDefinedNames), "r"(kSourceHash) : "memory");
#endif
}

// The batch layout (see the top of this file), exported to the façade as `batchLayout`.
constexpr size_t kDone = 0;     // io[0]: operations that succeeded
constexpr size_t kHeader = 1;   // operations start after the header
constexpr size_t kOpWidth = 3;  // level, option, value
constexpr size_t kLevel = 0, kOption = 1, kValue = 2;

// The largest struct setBytes/getBytes accept: far beyond any socket option's.
constexpr size_t kMaxBytes = 65536;
// A netlink datagram: a dump's replies come in pieces of at most 32 KiB (the kernel's cap on a
// dump's buffer), so a 64 KiB buffer always holds one.
constexpr size_t kMaxNetlink = 65536;
// A path argument, with its terminator (PATH_MAX).
constexpr size_t kMaxPath = 4096;

// The scratch arrays the façade binds once per copy of its syscall module (bindScratch): the int
// batch `io`, and `bytes` for structs read often (TCP_INFO). Held in the environment's instance
// data, so each worker thread has its own; each binding has a slot number, passed with every hot
// call, so two copies of the façade in one process (a bundle and its modules, say) never write into
// each other's arrays. The hot calls take only ints: no typed array is looked up per call.
// The references are weak: the copy that bound the arrays keeps them alive (they live in the same
// closure as every function that passes their slot), and once that copy is collected (a module
// registry reset, as test runners and hot reloaders do) its slot is reused by the next bind, so
// reloading the package any number of times neither leaks the arrays nor runs out of slots.
struct Binding {
  int32_t* io = nullptr;
  size_t ioLength = 0;
  uint8_t* bytes = nullptr;
  size_t bytesLength = 0;
  napi_ref ioRef = nullptr;
  napi_ref bytesRef = nullptr;
};

// Bindings alive at once (copies of the façade not yet collected): far beyond any real process.
constexpr size_t kMaxBindings = 4096;

// A plain array grown with realloc (Binding is trivially copyable): no libstdc++ container, so the
// musl prebuild imports only libc and napi_* symbols (test/release/musl.test.js).
struct BorrowTask;

struct Scratch {
  Binding* slots = nullptr;
  size_t count = 0;
  size_t capacity = 0;
  // A borrowRead() whose threads may still run (finishBorrowRead() waits for them).
  BorrowTask* borrowing = nullptr;
};

Scratch* ScratchOf(napi_env env) {
  void* data = nullptr;
  return napi_get_instance_data(env, &data) == napi_ok ? static_cast<Scratch*>(data) : nullptr;
}

template <typename T>
struct TypedArrayOf;
template <>
struct TypedArrayOf<int32_t> {
  static constexpr napi_typedarray_type kType = napi_int32_array;
};
template <>
struct TypedArrayOf<uint8_t> {
  static constexpr napi_typedarray_type kType = napi_uint8_array;
};

// The one argument reader and the one way out of every exported function. Each read that fails
// (a missing argument, a wrong type, a slot that is not bound, a batch longer than its array)
// marks the call failed; the function then returns Fail(), whatever went wrong first.
// The N-API calls are node-addon-api's C layer with their status checked, never its throwing
// wrappers: in an environment being torn down (a worker terminated mid-call) a throw that cannot
// be thrown is a fatal error that aborts the whole process (test/fuzz/worker-teardown.js).
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* usage) : info_(info), env_(info.Env()), usage_(usage) {}

  bool Ok() const { return ok_; }

  // Argument `i` as an int32.
  int32_t Int(size_t i) {
    int32_t value = 0;
    Check(i < info_.Length() && napi_get_value_int32(env_, info_[i], &value) == napi_ok);
    return value;
  }

  // Argument `i` as a typed array of T (Int32Array for int32_t, Uint8Array for uint8_t).
  template <typename T>
  T* Array(size_t i, size_t* length, size_t maxLength = SIZE_MAX) {
    napi_typedarray_type type;
    napi_value buffer;
    size_t offset;
    void* data = nullptr;
    *length = 0;
    Check(i < info_.Length() &&
          napi_get_typedarray_info(env_, info_[i], &type, length, &data, &buffer, &offset) == napi_ok &&
          type == TypedArrayOf<T>::kType && (data != nullptr || *length == 0) && *length <= maxLength);
    return ok_ ? static_cast<T*>(data) : nullptr;
  }

  // Argument `i` as a string that fits `size` bytes with its terminator.
  const char* String(size_t i, char* buffer, size_t size) {
    size_t length = 0;
    Check(i < info_.Length() && napi_get_value_string_utf8(env_, info_[i], buffer, size, &length) == napi_ok &&
          length + 1 < size);
    return buffer;
  }

  // Argument `i` as the number of a bound slot whose arrays are still alive. (Only the copy of the
  // façade that bound a slot passes it, and it keeps its arrays; a caller of the binding itself
  // could pass a slot whose arrays were collected, and is refused rather than handed freed memory.)
  // `array` names the one of its two arrays the call will touch.
  Binding* Slot(size_t i, napi_ref Binding::*array) {
    const int32_t slot = Int(i);
    Scratch* scratch = ScratchOf(env_);
    Check(scratch != nullptr && slot >= 0 && static_cast<size_t>(slot) < scratch->count &&
          Alive(scratch->slots[slot].*array));
    return ok_ ? &scratch->slots[static_cast<size_t>(slot)] : nullptr;
  }

  // Arguments (slot, fd, count) of a batch call: the slot's io array, if it holds `count` operations.
  int32_t* Batch(int32_t* fd, int32_t* count) {
    Binding* binding = Slot(0, &Binding::ioRef);
    *fd = Int(1);
    *count = Int(2);
    Check(*count >= 0 && binding != nullptr && binding->ioLength >= kHeader + kOpWidth * static_cast<size_t>(*count));
    return ok_ ? binding->io : nullptr;
  }

  // The one result type: an int32, >= 0 a result, < 0 the negated errno.
  Napi::Value Result(int value) const {
    napi_value result = nullptr;
    napi_create_int32(env_, value, &result);
    return Napi::Value(env_, result);
  }

  // The one failure path: a TypeError with the function's signature (or `what`). Thrown with the
  // C call, its status ignored (see above).
  Napi::Value Fail(const char* what = nullptr) const {
    napi_throw_type_error(env_, nullptr, what != nullptr ? what : usage_);
    return Napi::Value();
  }

 private:
  void Check(bool good) { ok_ = ok_ && good; }

  bool Alive(napi_ref ref) const {
    napi_value array = nullptr;
    return ref != nullptr && napi_get_reference_value(env_, ref, &array) == napi_ok && array != nullptr;
  }

  const Napi::CallbackInfo& info_;
  napi_env env_;
  const char* usage_;
  bool ok_ = true;
};

int Errno() { return -LastSocketError(); }

// True if the arrays of `binding` were collected (or it was never bound): its slot can be reused.
bool Collected(napi_env env, const Binding& binding) {
  if (binding.ioRef == nullptr) return true;
  napi_value value = nullptr;
  return napi_get_reference_value(env, binding.ioRef, &value) == napi_ok && value == nullptr;
}

void Release(napi_env env, Binding& binding) {
  if (binding.ioRef) napi_delete_reference(env, binding.ioRef);
  if (binding.bytesRef) napi_delete_reference(env, binding.bytesRef);
  binding = Binding();
}

// A free slot of `scratch`: a collected copy's, or a new one; nullptr when none can be had.
Binding* FreeSlot(napi_env env, Scratch* scratch) {
  size_t slot = 0;
  while (slot < scratch->count && !Collected(env, scratch->slots[slot])) slot++;
  if (slot == scratch->count) {
    if (slot >= kMaxBindings) return nullptr;
    if (scratch->count == scratch->capacity) {
      const size_t capacity = scratch->capacity == 0 ? 8 : scratch->capacity * 2;
      void* grown = std::realloc(scratch->slots, capacity * sizeof(Binding));
      if (grown == nullptr) return nullptr;
      scratch->slots = static_cast<Binding*>(grown);
      scratch->capacity = capacity;
    }
    scratch->slots[scratch->count++] = Binding();
  }
  return &scratch->slots[slot];
}

// bindScratch(io: Int32Array, bytes: Uint8Array): binds a copy of the façade's scratch arrays for
// this thread. Returns its slot: a collected copy's, or a new one.
Napi::Value BindScratch(const Napi::CallbackInfo& info) {
  Args args(info, "bindScratch(io: Int32Array, bytes: Uint8Array)");
  size_t ioLength, bytesLength;
  int32_t* io = args.Array<int32_t>(0, &ioLength);
  uint8_t* bytes = args.Array<uint8_t>(1, &bytesLength);
  napi_env env = info.Env();
  Scratch* scratch = ScratchOf(env);
  if (!args.Ok() || scratch == nullptr || ioLength < kHeader) return args.Fail();
  Binding* binding = FreeSlot(env, scratch);
  if (binding == nullptr) return args.Fail("bindScratch: 4096 copies of socket-knobs are alive in this thread");
  Release(env, *binding);
  if (napi_create_reference(env, info[0], 0, &binding->ioRef) != napi_ok ||
      napi_create_reference(env, info[1], 0, &binding->bytesRef) != napi_ok) {
    Release(env, *binding);
    return args.Fail("bindScratch: could not hold the arrays");
  }
  binding->io = io;
  binding->ioLength = ioLength;
  binding->bytes = bytes;
  binding->bytesLength = bytesLength;
  return args.Result(static_cast<int>(binding - scratch->slots));
}

// One operation of a batch: setsockopt of its int value, or getsockopt into it. 0 or -errno.
int SetInt(SocketHandle fd, int32_t* op) {
  const int value = op[kValue];
  return setsockopt(fd, op[kLevel], op[kOption], reinterpret_cast<const char*>(&value), sizeof value) == 0 ? 0
                                                                                                           : Errno();
}

int GetInt(SocketHandle fd, int32_t* op) {
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, op[kLevel], op[kOption], reinterpret_cast<char*>(&value), &len) != 0) return Errno();
  // Some options (a few IPv4 ones) report a single byte; widen what the kernel wrote, nothing more.
  op[kValue] = len == 1 ? static_cast<int32_t>(*reinterpret_cast<unsigned char*>(&value)) : value;
  return 0;
}

// setInts(slot, fd, count) / getInts(slot, fd, count): one operation (SetInt or GetInt) for each of
// the `count` operations in the slot's batch, stopping at the first that fails. io[0] = how many
// succeeded. Returns 0 or -errno of the one that failed.
template <int (*Operation)(SocketHandle, int32_t*)>
Napi::Value IntBatch(const Napi::CallbackInfo& info) {
  Args args(info, Operation == SetInt ? "setInts(slot, fd, count)" : "getInts(slot, fd, count)");
  int32_t fd, count;
  int32_t* io = args.Batch(&fd, &count);
  if (!args.Ok()) return args.Fail();
  int result = 0;
  int32_t done = 0;
  for (; done < count && (result = Operation(static_cast<SocketHandle>(fd), io + kHeader + kOpWidth * done)) == 0;
       done++) {
  }
  io[kDone] = done;
  return args.Result(result);
}

// getsockopt of up to `size` bytes into `data`: the length the kernel wrote (clamped to `size`:
// the kernel never reports more than it was given room for, but the façade's slice must never run
// past the buffer), or -errno.
int GetStruct(int32_t fd, int32_t level, int32_t option, void* data, size_t size) {
  socklen_t len = static_cast<socklen_t>(size);
  if (getsockopt(static_cast<SocketHandle>(fd), level, option, static_cast<char*>(data), &len) != 0) return Errno();
  return static_cast<int>(static_cast<size_t>(len) > size ? size : static_cast<size_t>(len));
}

// getScratchBytes(slot, fd, level, option): getsockopt into the slot's bytes. Returns the length
// the kernel wrote, or -errno.
Napi::Value GetScratchBytes(const Napi::CallbackInfo& info) {
  Args args(info, "getScratchBytes(slot, fd, level, option)");
  Binding* binding = args.Slot(0, &Binding::bytesRef);
  const int32_t fd = args.Int(1), level = args.Int(2), option = args.Int(3);
  if (!args.Ok()) return args.Fail();
  return args.Result(GetStruct(fd, level, option, binding->bytes, binding->bytesLength));
}

// getBytes(fd, level, option, bytes: Uint8Array): getsockopt into `bytes`. Returns the length the
// kernel wrote, or -errno.
Napi::Value GetBytes(const Napi::CallbackInfo& info) {
  Args args(info, "getBytes(fd, level, option, bytes: Uint8Array)");
  const int32_t fd = args.Int(0), level = args.Int(1), option = args.Int(2);
  size_t length;
  uint8_t* data = args.Array<uint8_t>(3, &length, kMaxBytes);
  if (!args.Ok()) return args.Fail();
  return args.Result(GetStruct(fd, level, option, data, length));
}

// setBytes(fd, level, option, bytes: Uint8Array): setsockopt with an arbitrary struct (linger, a
// name). Returns 0 or -errno.
Napi::Value SetBytes(const Napi::CallbackInfo& info) {
  Args args(info, "setBytes(fd, level, option, bytes: Uint8Array)");
  const int32_t fd = args.Int(0), level = args.Int(1), option = args.Int(2);
  size_t length;
  const uint8_t* data = args.Array<uint8_t>(3, &length, kMaxBytes);
  if (!args.Ok()) return args.Fail();
  return args.Result(setsockopt(static_cast<SocketHandle>(fd), level, option, reinterpret_cast<const char*>(data),
                                static_cast<socklen_t>(length)) == 0
                         ? 0
                         : Errno());
}

// A new socket, close-on-exec (not inheritable on Windows), or -errno.
int NewSocket(int domain, int type, int protocol) {
#if defined(SOCK_CLOEXEC)
  SocketHandle fd = socket(domain, type | SOCK_CLOEXEC, protocol);
  return fd < 0 ? Errno() : static_cast<int>(fd);
#elif defined(_WIN32)
  // Not inheritable: Windows' counterpart of close-on-exec (a child process started with
  // bInheritHandles would otherwise hold the socket open). WSA_FLAG_NO_HANDLE_INHERIT needs Windows 7
  // SP1; where it is refused, clear the flag on the handle instead, before anything can start a child.
#ifndef WSA_FLAG_NO_HANDLE_INHERIT
#define WSA_FLAG_NO_HANDLE_INHERIT 0x80
#endif
  SocketHandle fd = WSASocketW(domain, type, protocol, nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (fd == INVALID_SOCKET && WSAGetLastError() == WSAEINVAL) {
    fd = WSASocketW(domain, type, protocol, nullptr, 0, WSA_FLAG_OVERLAPPED);
    if (fd != INVALID_SOCKET && !SetHandleInformation(reinterpret_cast<HANDLE>(fd), HANDLE_FLAG_INHERIT, 0)) {
      const int err = static_cast<int>(GetLastError());
      CloseSocket(fd);
      return -err;
    }
  }
  return fd == INVALID_SOCKET ? Errno() : static_cast<int>(fd);
#else
  // No SOCK_CLOEXEC (macOS): set FD_CLOEXEC at once; no exec can happen in between on this thread.
  SocketHandle fd = socket(domain, type, protocol);
  if (fd < 0) return Errno();
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    const int err = Errno();
    CloseSocket(fd);
    return err;
  }
  return fd;
#endif
}

// openSocket(domain, type, protocol): a new socket, close-on-exec so that child processes never
// inherit it (protocol 0 is the family's default; IPPROTO_MPTCP for multipath TCP). Returns the
// fd, or -errno.
Napi::Value OpenSocket(const Napi::CallbackInfo& info) {
  Args args(info, "openSocket(domain, type, protocol)");
  const int32_t domain = args.Int(0), type = args.Int(1), protocol = args.Int(2);
  if (!args.Ok()) return args.Fail();
  return args.Result(NewSocket(domain, type, protocol));
}

// bind() to `address` (an IP literal of `domain`), or -errno (-EINVAL if inet_pton cannot parse it).
int BindTo(SocketHandle fd, int32_t domain, const char* address, int32_t port, int32_t scope) {
  int rc;
  if (domain == AF_INET) {
    sockaddr_in sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, address, &sa.sin_addr) != 1) return -EINVAL;
    rc = bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  } else if (domain == AF_INET6) {
    sockaddr_in6 sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(static_cast<uint16_t>(port));
    sa.sin6_scope_id = static_cast<uint32_t>(scope);
    if (inet_pton(AF_INET6, address, &sa.sin6_addr) != 1) return -EINVAL;
    rc = bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  } else {
    return -EAFNOSUPPORT;
  }
  return rc == 0 ? 0 : Errno();
}

// bindSocket(fd, domain, address: string, port, scopeId): bind to an IP literal the façade has
// already checked with net.isIP(). Returns 0 or -errno.
Napi::Value BindSocket(const Napi::CallbackInfo& info) {
  Args args(info, "bindSocket(fd, domain, address: string, port, scopeId)");
  char address[64];
  const int32_t fd = args.Int(0), domain = args.Int(1);
  args.String(2, address, sizeof address);
  const int32_t port = args.Int(3), scope = args.Int(4);
  if (!args.Ok() || port < 0 || port > 65535) return args.Fail();
  return args.Result(BindTo(static_cast<SocketHandle>(fd), domain, address, port, scope));
}

// listenSocket(fd, backlog): returns 0 or -errno.
Napi::Value ListenSocket(const Napi::CallbackInfo& info) {
  Args args(info, "listenSocket(fd, backlog)");
  const int32_t fd = args.Int(0), backlog = args.Int(1);
  if (!args.Ok()) return args.Fail();
  return args.Result(listen(static_cast<SocketHandle>(fd), backlog) == 0 ? 0 : Errno());
}

// closeSocket(fd): for sockets this addon opened and nobody else owns yet. Returns 0 or -errno.
Napi::Value CloseSocketFn(const Napi::CallbackInfo& info) {
  Args args(info, "closeSocket(fd)");
  const int32_t fd = args.Int(0);
  if (!args.Ok()) return args.Fail();
  return args.Result(CloseSocket(static_cast<SocketHandle>(fd)) == 0 ? 0 : Errno());
}

// netlinkOpen(nsFd): a NETLINK_SOCK_DIAG socket (the kernel's socket diagnostics, what `ss` reads)
// in the network namespace that nsFd names (an open /proc/PID/ns/net), or in this thread's own for
// -1. A socket belongs to the namespace of the thread that creates it, so a thread of its own joins
// the namespace (setns: CAP_SYS_ADMIN) and creates it, then ends: no thread of the process ever
// changes namespace. Returns the fd (close-on-exec), or -errno (-ENOSYS off Linux).
#if defined(__linux__)
struct NetlinkOpenJob {
  int nsFd;
  int result;
};

void* NetlinkOpenThread(void* arg) {
  NetlinkOpenJob* job = static_cast<NetlinkOpenJob*>(arg);
  if (job->nsFd >= 0 && setns(job->nsFd, CLONE_NEWNET) != 0) {
    job->result = Errno();
    return nullptr;
  }
  const int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  job->result = fd < 0 ? Errno() : fd;
  return nullptr;
}
#endif

Napi::Value NetlinkOpen(const Napi::CallbackInfo& info) {
  Args args(info, "netlinkOpen(nsFd)");
  const int32_t nsFd = args.Int(0);
  if (!args.Ok()) return args.Fail();
#if defined(__linux__)
  NetlinkOpenJob job = {nsFd, -ENOSYS};
  if (nsFd < 0) {
    NetlinkOpenThread(&job);
    return args.Result(job.result);
  }
  pthread_t thread;
  const int started = pthread_create(&thread, nullptr, NetlinkOpenThread, &job);
  if (started != 0) return args.Result(-started);
  pthread_join(thread, nullptr);
  return args.Result(job.result);
#else
  (void)nsFd;
  return args.Result(-ENOSYS);
#endif
}

// netlinkSend(fd, bytes: Uint8Array): one request to the kernel (netlink address 0). Returns the
// length sent, or -errno.
Napi::Value NetlinkSend(const Napi::CallbackInfo& info) {
  Args args(info, "netlinkSend(fd, bytes: Uint8Array)");
  const int32_t fd = args.Int(0);
  size_t length;
  const uint8_t* data = args.Array<uint8_t>(1, &length, kMaxNetlink);
  if (!args.Ok()) return args.Fail();
#if defined(__linux__)
  sockaddr_nl kernel;
  std::memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  const ssize_t sent = sendto(fd, data, length, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  return args.Result(sent < 0 ? Errno() : static_cast<int>(sent));
#else
  (void)fd;
  (void)data;
  return args.Result(-ENOSYS);
#endif
}

// netlinkReceive(fd, bytes: Uint8Array): one datagram of the reply into `bytes`. Returns its
// length, -EMSGSIZE when it did not fit (nothing is cut silently), or -errno.
Napi::Value NetlinkReceive(const Napi::CallbackInfo& info) {
  Args args(info, "netlinkReceive(fd, bytes: Uint8Array)");
  const int32_t fd = args.Int(0);
  size_t length;
  uint8_t* data = args.Array<uint8_t>(1, &length, kMaxNetlink);
  if (!args.Ok()) return args.Fail();
#if defined(__linux__)
  ssize_t got;
  do {
    got = recv(fd, data, length, MSG_TRUNC);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return args.Result(Errno());
  return args.Result(static_cast<size_t>(got) > length ? -EMSGSIZE : static_cast<int>(got));
#else
  (void)fd;
  (void)data;
  return args.Result(-ENOSYS);
#endif
}

// pidfdOpen(pid): a pidfd for another process (Linux 5.3+), for borrowing its sockets. Returns the
// fd, or -errno (-ENOSYS where the platform has no such call).
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  Args args(info, "pidfdOpen(pid)");
  const int32_t pid = args.Int(0);
  if (!args.Ok()) return args.Fail();
#if defined(SYS_pidfd_open)
  const long fd = syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0);
  return args.Result(fd < 0 ? Errno() : static_cast<int>(fd));
#else
  (void)pid;
  return args.Result(-ENOSYS);
#endif
}

// borrowRead(pidfd, fds: Int32Array, reads: Int32Array, out: Int32Array, stride, status: Int32Array(8),
// mount0, options0, tasks0, mount1, options1, tasks1): starts, on threads of its own, the borrowing
// and reading of each of `fds` of the process `pidfd` names, and returns at once (0, or -errno; the
// caller goes on, and finishBorrowRead() waits for the threads). Each fd is borrowed (pidfd_getfd,
// Linux 5.6+: a close-on-exec copy in this process), fstat-ed and, on a socket, read (getsockopt of
// each of `reads`: level, option, size triples), then its copy is closed: at most one copy per
// thread is open at a time, and none outlives the work. Row i of `out` (`stride` ints): [0 or
// -errno (pidfd_getfd's or fstat's), the inode's low and high 32 bits, 1 on a socket else 0], then
// for each read the length the kernel wrote or -errno, and ceil(size / 4) ints of what it wrote.
//
// With hierarchy 0's mount not "", each thread first joins the target's cgroup v1 net_cls/net_prio
// cgroups, so that the kernel's __receive_sock() gives each borrowed socket the class it already
// has (borrowing from any other thread re-labels it with that thread's): it unshares its mount
// namespace (and fs attributes), makes every mount private (nothing propagates to the host's),
// mounts each hierarchy (`options`: its exact controller list) on `mountN` and writes its own
// thread id to `tasksN` (a path under `mountN`); hierarchy 1 is skipped when its mount is "". The
// thread, and its mount namespace, end with the work. status[2t], status[2t + 1] = [0, 0] for
// thread t, else [the step that failed (1 unshare, 2 private, 3 + 3h mount, 4 + 3h open tasks,
// 5 + 3h write tasks), errno]: that thread borrowed nothing (its rows are all 0).
//
// The typed arrays are held (references) until finishBorrowRead(); one borrowRead per addon
// instance at a time. On a machine with more than one core the fds are split among up to 4
// threads: each fd costs a dozen syscalls (10,000 sockets: ~170 ms on one thread here), and the
// JavaScript that called goes on decoding the socket diagnostics meanwhile.
#if defined(__linux__)
constexpr size_t kMaxReadThreads = 4;
constexpr size_t kMaxReads = 64;

struct BorrowJob {
  int pidfd;
  const int32_t* fds;
  const int32_t* reads;
  size_t readsLength;
  int32_t* out;
  size_t stride;
  size_t from;
  size_t to;
  int32_t* status;
  const char* const* mounts;
  const char* const* options;
  const char* const* tasks;
};

struct BorrowTask {
  BorrowJob jobs[kMaxReadThreads];
  pthread_t threads[kMaxReadThreads];
  bool running[kMaxReadThreads] = {false, false, false, false};
  size_t count = 0;
  napi_ref held[3] = {nullptr, nullptr, nullptr};
  int32_t reads[3 * kMaxReads];
  char strings[6][kMaxPath];
  const char* mounts[2];
  const char* options[2];
  const char* tasks[2];
};

// Joins the target's cgroups (see borrowRead): 0, or the step that failed (errno set).
int JoinCgroups(const BorrowJob* job) {
  if (unshare(CLONE_NEWNS | CLONE_FS) != 0) return 1;
  if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 2;
  char tid[24];
  const int tidLength = std::snprintf(tid, sizeof tid, "%ld", static_cast<long>(syscall(SYS_gettid)));
  for (int h = 0; h < 2; h++) {
    if (job->mounts[h][0] == '\0') continue;
    if (mount("socket-knobs", job->mounts[h], "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, job->options[h]) != 0)
      return 3 + 3 * h;
    const int tasks = open(job->tasks[h], O_WRONLY | O_CLOEXEC);
    if (tasks < 0) return 4 + 3 * h;
    const ssize_t written = write(tasks, tid, static_cast<size_t>(tidLength));
    const int saved = errno;
    close(tasks);
    errno = saved;
    if (written != tidLength) return 5 + 3 * h;
  }
  return 0;
}

// One fd: borrowed, fstat-ed, read (on a socket), closed, into its row.
void BorrowAndRead(const BorrowJob* job, size_t i) {
  int32_t* row = job->out + i * job->stride;
  std::memset(row, 0, job->stride * sizeof(int32_t));
#if defined(SYS_pidfd_getfd)
  const long copy = syscall(SYS_pidfd_getfd, job->pidfd, job->fds[i], 0);
#else
  const long copy = -1;
  errno = ENOSYS;
#endif
  if (copy < 0) {
    row[0] = -errno;
    return;
  }
  const int fd = static_cast<int>(copy);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    row[0] = -errno;
  } else {
    const uint64_t inode = static_cast<uint64_t>(st.st_ino);
    row[1] = static_cast<int32_t>(static_cast<uint32_t>(inode));
    row[2] = static_cast<int32_t>(static_cast<uint32_t>(inode >> 32));
    row[3] = S_ISSOCK(st.st_mode) ? 1 : 0;
    size_t at = 4;
    for (size_t r = 0; row[3] != 0 && r < job->readsLength; r += 3) {
      const size_t size = static_cast<size_t>(job->reads[r + 2]);
      row[at] = GetStruct(fd, job->reads[r], job->reads[r + 1], row + at + 1, size);
      at += 1 + (size + 3) / 4;
    }
  }
  close(fd);
}

void* BorrowThread(void* arg) {
  const BorrowJob* job = static_cast<BorrowJob*>(arg);
  if (job->mounts[0][0] != '\0') {
    const int step = JoinCgroups(job);
    if (step != 0) {
      job->status[0] = step;
      job->status[1] = errno;
      return nullptr;
    }
  }
  for (size_t i = job->from; i < job->to; i++) BorrowAndRead(job, i);
  return nullptr;
}

// Waits for `task`'s threads and lets go of its arrays.
void FinishTask(napi_env env, BorrowTask* task) {
  for (size_t t = 0; t < task->count; t++) {
    if (task->running[t]) pthread_join(task->threads[t], nullptr);
  }
  for (napi_ref ref : task->held) {
    if (ref != nullptr) napi_delete_reference(env, ref);
  }
  delete task;
}

// The width of a row for `reads` (see borrowRead), or 0 if a size is out of range.
size_t RowWidth(const int32_t* reads, size_t readsLength) {
  size_t width = 4;
  for (size_t r = 0; r + 2 < readsLength; r += 3) {
    const int32_t size = reads[r + 2];
    if (size < 1 || static_cast<size_t>(size) > kMaxBytes) return 0;
    width += 1 + (static_cast<size_t>(size) + 3) / 4;
  }
  return width;
}
#endif

Napi::Value BorrowRead(const Napi::CallbackInfo& info) {
  Args args(info,
            "borrowRead(pidfd, fds: Int32Array, reads: Int32Array, out: Int32Array, stride, status: Int32Array(8), "
            "mount0, options0, tasks0, mount1, options1, tasks1)");
  const int32_t pidfd = args.Int(0);
  size_t count, readsLength, outLength, statusLength;
  const int32_t* fds = args.Array<int32_t>(1, &count);
  const int32_t* reads = args.Array<int32_t>(2, &readsLength, 3 * 64);
  int32_t* out = args.Array<int32_t>(3, &outLength);
  const int32_t stride = args.Int(4);
  int32_t* status = args.Array<int32_t>(5, &statusLength);
#if defined(__linux__)
  napi_env env = info.Env();
  BorrowTask* task = new BorrowTask();
  for (size_t i = 0; i < 6; i++) args.String(6 + i, task->strings[i], kMaxPath);
  Scratch* scratch = ScratchOf(env);
  const size_t width = args.Ok() ? RowWidth(reads, readsLength) : 0;
  if (!args.Ok() || readsLength % 3 != 0 || width == 0 || stride < 4 || width > static_cast<size_t>(stride) ||
      outLength / static_cast<size_t>(stride) < count || statusLength < 2 * kMaxReadThreads || scratch == nullptr) {
    delete task;
    return args.Fail();
  }
  if (scratch->borrowing != nullptr) {
    delete task;
    return args.Fail("borrowRead: one is already running (finishBorrowRead first)");
  }
  if (napi_create_reference(env, info[1], 1, &task->held[0]) != napi_ok ||
      napi_create_reference(env, info[3], 1, &task->held[1]) != napi_ok ||
      napi_create_reference(env, info[5], 1, &task->held[2]) != napi_ok) {
    FinishTask(env, task);
    return args.Fail("borrowRead: could not hold the arrays");
  }
  if (readsLength > 0) std::memcpy(task->reads, reads, readsLength * sizeof(int32_t));
  for (int h = 0; h < 2; h++) {
    task->mounts[h] = task->strings[3 * h];
    task->options[h] = task->strings[3 * h + 1];
    task->tasks[h] = task->strings[3 * h + 2];
  }
  std::memset(status, 0, statusLength * sizeof(int32_t));
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  task->count = std::min<size_t>({cores > 1 ? static_cast<size_t>(cores) : 1, kMaxReadThreads, (count + 255) / 256});
  for (size_t t = 0; t < task->count; t++) {
    task->jobs[t] = {pidfd,
                     fds,
                     task->reads,
                     readsLength,
                     out,
                     static_cast<size_t>(stride),
                     count * t / task->count,
                     count * (t + 1) / task->count,
                     status + 2 * t,
                     task->mounts,
                     task->options,
                     task->tasks};
    const int started = pthread_create(&task->threads[t], nullptr, BorrowThread, &task->jobs[t]);
    if (started != 0) {
      FinishTask(env, task);  // waits for the threads already started
      return args.Result(-started);
    }
    task->running[t] = true;
  }
  scratch->borrowing = task;
  return args.Result(0);
#else
  (void)pidfd;
  (void)fds;
  (void)reads;
  (void)out;
  (void)stride;
  (void)status;
  return args.Ok() ? args.Result(-ENOSYS) : args.Fail();
#endif
}

// finishBorrowRead(): waits for the borrowRead() running in this addon instance, if one is, and
// lets go of its arrays. Returns 0.
Napi::Value FinishBorrowRead(const Napi::CallbackInfo& info) {
  Args args(info, "finishBorrowRead()");
#if defined(__linux__)
  Scratch* scratch = ScratchOf(info.Env());
  if (scratch != nullptr && scratch->borrowing != nullptr) {
    FinishTask(info.Env(), scratch->borrowing);
    scratch->borrowing = nullptr;
  }
#endif
  return args.Result(0);
}

// Module initialisation runs in every worker thread that loads the addon, and a worker can be
// terminated while it does: then every N-API call fails (napi_pending_exception with no exception,
// or napi_cannot_run_js). node-addon-api answers such a failure by throwing, and a throw that
// cannot be thrown is a fatal error that aborts the whole process. So Init uses the plain C calls,
// checks each status, and on the first failure stops quietly: the environment is going away and
// nobody will see the exports (test/fuzz/worker-teardown.js terminates hundreds of loading workers).
bool SetNumber(napi_env env, napi_value object, const char* name, int value) {
  napi_value number;
  return napi_create_int32(env, value, &number) == napi_ok &&
         napi_set_named_property(env, object, name, number) == napi_ok;
}

// A named object of numbers, set on `exports`.
bool SetNumbers(napi_env env, napi_value exports, const char* name, const KnownConstant* numbers, size_t count) {
  napi_value object;
  if (napi_create_object(env, &object) != napi_ok) return false;
  for (size_t i = 0; i < count; i++) {
    if (!SetNumber(env, object, numbers[i].name, numbers[i].value)) return false;
  }
  return napi_set_named_property(env, exports, name, object) == napi_ok;
}

// Every exported function, by the name lib/core/native.ts lists it under (FUNCTIONS); a unit test
// checks that both lists agree.
struct Export {
  const char* name;
  napi_callback callback;
};

template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
napi_value Wrap(napi_env env, napi_callback_info info) {
  Napi::CallbackInfo callbackInfo(env, info);
  return Fn(callbackInfo);
}

const Export kExports[] = {
    {"bindScratch", Wrap<BindScratch>},   {"setInts", Wrap<IntBatch<SetInt>>},
    {"getInts", Wrap<IntBatch<GetInt>>},  {"getScratchBytes", Wrap<GetScratchBytes>},
    {"setBytes", Wrap<SetBytes>},         {"getBytes", Wrap<GetBytes>},
    {"openSocket", Wrap<OpenSocket>},     {"bindSocket", Wrap<BindSocket>},
    {"listenSocket", Wrap<ListenSocket>}, {"closeSocket", Wrap<CloseSocketFn>},
    {"pidfdOpen", Wrap<PidfdOpen>},       {"netlinkOpen", Wrap<NetlinkOpen>},
    {"netlinkSend", Wrap<NetlinkSend>},   {"netlinkReceive", Wrap<NetlinkReceive>},
    {"borrowRead", Wrap<BorrowRead>},     {"finishBorrowRead", Wrap<FinishBorrowRead>},
};

const KnownConstant kBatchLayout[] = {
    {"DONE", static_cast<int>(kDone)},        {"HEADER", static_cast<int>(kHeader)},
    {"OP_WIDTH", static_cast<int>(kOpWidth)}, {"LEVEL", static_cast<int>(kLevel)},
    {"OPTION", static_cast<int>(kOption)},    {"VALUE", static_cast<int>(kValue)},
};

void FreeScratch(napi_env env, void* data, void*) {
  Scratch* scratch = static_cast<Scratch*>(data);
#if defined(__linux__)
  // A worker torn down between borrowRead() and finishBorrowRead(): its threads still write into
  // the held arrays, so they are waited for before anything is freed.
  if (scratch->borrowing != nullptr) FinishTask(env, scratch->borrowing);
#endif
  for (size_t i = 0; i < scratch->count; i++) Release(env, scratch->slots[i]);
  std::free(scratch->slots);
  delete scratch;
}

napi_value Init(napi_env env, napi_value exports) {
  KeepDefinedNames();
  Scratch* scratch = new Scratch();
  if (napi_set_instance_data(env, scratch, FreeScratch, nullptr) != napi_ok) {
    delete scratch;
    return nullptr;
  }
  if (!SetNumbers(env, exports, "constants", kKnownConstants, sizeof kKnownConstants / sizeof kKnownConstants[0]) ||
      !SetNumbers(env, exports, "batchLayout", kBatchLayout, sizeof kBatchLayout / sizeof kBatchLayout[0])) {
    return nullptr;
  }
  for (const Export& e : kExports) {
    napi_value fn;
    if (napi_create_function(env, e.name, NAPI_AUTO_LENGTH, e.callback, nullptr, &fn) != napi_ok ||
        napi_set_named_property(env, exports, e.name, fn) != napi_ok) {
      return nullptr;
    }
  }
  return exports;
}

}  // namespace

NAPI_MODULE(socket_knobs, Init)

#ifdef SOCKET_KNOBS_OWN_CXX_RUNTIME
// The musl prebuild (npm run prebuilds:musl) links against musl's libc and no libstdc++, so it loads
// on Alpine whatever C++ runtime is (or is not) installed. node-addon-api needs only these pieces
// of the C++ runtime; they are defined here, hidden inside this addon by -fvisibility=hidden.
#include <cstdlib>

void* operator new(std::size_t size) {
  void* p = std::malloc(size ? size : 1);
  if (!p) std::abort();  // as a C++ runtime without exceptions does when memory is exhausted
  return p;
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
extern "C" void __cxa_pure_virtual() { std::abort(); }
#endif
