// socket-knobs native core: the syscalls and the #ifdef support table, nothing else.
// (setsockopt/getsockopt on any fd; socket/bind/listen/close for the sockets socket-knobs creates
// itself, whose options must be set before bind or connect; pidfd_open/pidfd_getfd to read another
// process's sockets.)
//
// Validation, defaults, units and error typing live in the TypeScript façade (lib/). Every function
// here returns 0 or the errno the kernel gave; it never throws for a kernel error, never aborts, and
// never reads or writes past the typed arrays it is handed (lengths are checked against what the
// caller claims). There is no global mutable state, so the addon is safe in worker threads.
//
// Batch layout (lib/core/syscall.ts names it BATCH): one Int32Array `io` allocated once per thread
// and bound once (bindScratch), so the hot calls pass only ints:
//   io[0]  out: errno of the call that failed (0 when all succeeded)
//   io[1]  out: how many operations succeeded before it (or the length written, for getBytes)
//   io[2 + 3*i .. 4 + 3*i]  operation i: level, option, value (value is in for set, out for get)
// One crossing then applies a whole keepalive configuration, which the benchmark shows pays
// (four syscalls behind one N-API call instead of four calls).

#include <napi.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include <cstdlib>
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

#include "table.gen.h"

// kDefinedNames is read from the binary's file (scripts/support.js), never at run time. Init takes
// its address in an empty asm statement, so that neither the compiler nor a dead-stripping linker
// (macOS) can drop it.
inline void KeepDefinedNames() {
#if defined(__GNUC__) || defined(__clang__)
  __asm__ volatile("" : : "r"(kDefinedNames) : "memory");
#endif
}

constexpr size_t kHeader = 2;   // io[0] errno, io[1] count
constexpr size_t kOpWidth = 3;  // level, option, value

// Reads argument `index` as an int32; false when it is not a number.
bool ArgInt32(napi_env env, const Napi::CallbackInfo& info, size_t index, int32_t* out) {
  return napi_get_value_int32(env, info[index], out) == napi_ok;
}

// Reads argument `index` as a typed array of the wanted element type; false otherwise.
bool ArgTypedArray(napi_env env, const Napi::CallbackInfo& info, size_t index, napi_typedarray_type want, void** data,
                   size_t* length) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, info[index], &type, length, data, &buffer, &offset) != napi_ok) return false;
  return type == want && (*data != nullptr || *length == 0);
}

Napi::Value Fail(const Napi::CallbackInfo& info, const char* what) {
  // Only reachable by calling the internal binding directly with wrong types: the façade validates.
  // Thrown with the plain C call and its status ignored: in an environment that is being torn down
  // (a worker terminated mid-call) napi_throw fails, and node-addon-api's
  // ThrowAsJavaScriptException would turn that failure into a process abort.
  napi_throw_type_error(info.Env(), nullptr, what);
  return Napi::Value();
}

Napi::Value Result(const Napi::CallbackInfo& info, int err) { return Napi::Number::New(info.Env(), err); }

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
struct Scratch {
  Binding* slots = nullptr;
  size_t count = 0;
  size_t capacity = 0;
};

Scratch* ScratchOf(napi_env env) {
  void* data = nullptr;
  return napi_get_instance_data(env, &data) == napi_ok ? static_cast<Scratch*>(data) : nullptr;
}

// Reads up to `n` int32 arguments of a call; false unless there are `n` numbers.
bool IntArgs(napi_env env, napi_callback_info info, size_t n, int32_t* out) {
  napi_value argv[4];
  size_t argc = 4;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < n) return false;
  for (size_t i = 0; i < n; i++) {
    if (napi_get_value_int32(env, argv[i], &out[i]) != napi_ok) return false;
  }
  return true;
}

// The binding in `slot`, or nullptr.
Binding* BindingOf(napi_env env, int32_t slot) {
  Scratch* scratch = ScratchOf(env);
  if (scratch == nullptr || slot < 0 || static_cast<size_t>(slot) >= scratch->count) return nullptr;
  return &scratch->slots[static_cast<size_t>(slot)];
}

napi_value Int(napi_env env, int value) {
  napi_value result = nullptr;
  napi_create_int32(env, value, &result);
  return result;
}

napi_value FailRaw(napi_env env, const char* what) {
  napi_throw_type_error(env, nullptr, what);
  return nullptr;
}

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

// bindScratch(io: Int32Array, bytes: Uint8Array): binds a copy of the façade's scratch arrays for
// this thread. Returns its slot: a collected copy's, or a new one.
Napi::Value BindScratch(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  void* io;
  void* bytes;
  size_t ioLength, bytesLength;
  Scratch* scratch = ScratchOf(env);
  if (scratch == nullptr || info.Length() < 2 || !ArgTypedArray(env, info, 0, napi_int32_array, &io, &ioLength) ||
      !ArgTypedArray(env, info, 1, napi_uint8_array, &bytes, &bytesLength) || ioLength < kHeader) {
    return Fail(info, "bindScratch(io: Int32Array, bytes: Uint8Array)");
  }
  size_t slot = 0;
  while (slot < scratch->count && !Collected(env, scratch->slots[slot])) slot++;
  if (slot == scratch->count) {
    if (slot >= kMaxBindings) return Fail(info, "bindScratch: 4096 copies of socket-knobs are alive in this thread");
    if (scratch->count == scratch->capacity) {
      const size_t capacity = scratch->capacity == 0 ? 8 : scratch->capacity * 2;
      void* grown = std::realloc(scratch->slots, capacity * sizeof(Binding));
      if (grown == nullptr) return Fail(info, "bindScratch: out of memory");
      scratch->slots = static_cast<Binding*>(grown);
      scratch->capacity = capacity;
    }
    scratch->slots[scratch->count++] = Binding();
  }
  Binding& binding = scratch->slots[slot];
  Release(env, binding);
  if (napi_create_reference(env, info[0], 0, &binding.ioRef) != napi_ok ||
      napi_create_reference(env, info[1], 0, &binding.bytesRef) != napi_ok) {
    Release(env, binding);
    return Fail(info, "bindScratch: could not hold the arrays");
  }
  binding.io = static_cast<int32_t*>(io);
  binding.ioLength = ioLength;
  binding.bytes = static_cast<uint8_t*>(bytes);
  binding.bytesLength = bytesLength;
  return Result(info, static_cast<int>(slot));
}

// The batch of binding `slot`, if it holds `count` operations.
int32_t* Batch(napi_env env, int32_t slot, int32_t count) {
  Binding* binding = BindingOf(env, slot);
  if (binding == nullptr || count < 0 || binding->ioLength < kHeader + kOpWidth * static_cast<size_t>(count)) {
    return nullptr;
  }
  return binding->io;
}

// setInts(slot, fd, count): setsockopt(fd, level, option, &value, sizeof(int)) for each of the
// `count` operations in the slot's batch. io[0] = errno of the one that failed (or 0), io[1] = how
// many succeeded. Returns the errno.
napi_value SetInts(napi_env env, napi_callback_info info) {
  int32_t args[3];
  int32_t* io;
  if (!IntArgs(env, info, 3, args) || (io = Batch(env, args[0], args[2])) == nullptr) {
    return FailRaw(env, "setInts(slot, fd, count)");
  }
  const int32_t fd = args[1], count = args[2];
  int err = 0;
  int32_t done = 0;
  for (; done < count; done++) {
    const int32_t* op = io + kHeader + kOpWidth * done;
    int value = op[2];
    if (setsockopt(static_cast<SocketHandle>(fd), op[0], op[1], reinterpret_cast<const char*>(&value), sizeof value) !=
        0) {
      err = LastSocketError();
      break;
    }
  }
  io[0] = err;
  io[1] = done;
  return Int(env, err);
}

// getInts(slot, fd, count): getsockopt of an int for each operation of the slot's batch, written
// into its value slot. Returns the errno.
napi_value GetInts(napi_env env, napi_callback_info info) {
  int32_t args[3];
  int32_t* io;
  if (!IntArgs(env, info, 3, args) || (io = Batch(env, args[0], args[2])) == nullptr) {
    return FailRaw(env, "getInts(slot, fd, count)");
  }
  const int32_t fd = args[1], count = args[2];
  int err = 0;
  int32_t done = 0;
  for (; done < count; done++) {
    int32_t* op = io + kHeader + kOpWidth * done;
    int value = 0;
    socklen_t len = sizeof value;
    if (getsockopt(static_cast<SocketHandle>(fd), op[0], op[1], reinterpret_cast<char*>(&value), &len) != 0) {
      err = LastSocketError();
      break;
    }
    // Some options (a few IPv4 ones) report a single byte; widen what the kernel wrote, nothing more.
    op[2] = len == 1 ? static_cast<int32_t>(*reinterpret_cast<unsigned char*>(&value)) : value;
  }
  io[0] = err;
  io[1] = done;
  return Int(env, err);
}

// getScratchBytes(slot, fd, level, option): getsockopt into the slot's bytes. Returns the length
// the kernel wrote, or -errno.
napi_value GetScratchBytes(napi_env env, napi_callback_info info) {
  int32_t args[4];
  Binding* binding;
  if (!IntArgs(env, info, 4, args) || (binding = BindingOf(env, args[0])) == nullptr) {
    return FailRaw(env, "getScratchBytes(slot, fd, level, option)");
  }
  socklen_t len = static_cast<socklen_t>(binding->bytesLength);
  if (getsockopt(static_cast<SocketHandle>(args[1]), args[2], args[3], reinterpret_cast<char*>(binding->bytes), &len) !=
      0) {
    return Int(env, -LastSocketError());
  }
  return Int(env, static_cast<int>(static_cast<size_t>(len) > binding->bytesLength ? binding->bytesLength : len));
}

// setBytes(fd, level, option, bytes: Uint8Array): setsockopt with an arbitrary struct (e.g. linger).
Napi::Value SetBytes(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int32_t fd, level, option;
  void* data;
  size_t length;
  if (info.Length() < 4 || !ArgInt32(env, info, 0, &fd) || !ArgInt32(env, info, 1, &level) ||
      !ArgInt32(env, info, 2, &option) || !ArgTypedArray(env, info, 3, napi_uint8_array, &data, &length) ||
      length > 65536) {
    return Fail(info, "setBytes(fd, level, option, bytes: Uint8Array)");
  }
  int err = 0;
  if (setsockopt(static_cast<SocketHandle>(fd), level, option, static_cast<const char*>(data),
                 static_cast<socklen_t>(length)) != 0) {
    err = LastSocketError();
  }
  return Result(info, err);
}

// getBytes(fd, level, option, bytes: Uint8Array, io: Int32Array): io[1] = length the kernel wrote.
Napi::Value GetBytes(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int32_t fd, level, option;
  void* data;
  void* ioData;
  size_t length, ioLength;
  if (info.Length() < 5 || !ArgInt32(env, info, 0, &fd) || !ArgInt32(env, info, 1, &level) ||
      !ArgInt32(env, info, 2, &option) || !ArgTypedArray(env, info, 3, napi_uint8_array, &data, &length) ||
      length > 65536 || !ArgTypedArray(env, info, 4, napi_int32_array, &ioData, &ioLength) || ioLength < kHeader) {
    return Fail(info, "getBytes(fd, level, option, bytes: Uint8Array, io: Int32Array)");
  }
  int32_t* io = static_cast<int32_t*>(ioData);
  socklen_t len = static_cast<socklen_t>(length);
  int err = 0;
  if (getsockopt(static_cast<SocketHandle>(fd), level, option, static_cast<char*>(data), &len) != 0) {
    err = LastSocketError();
    len = 0;
  }
  // The kernel never reports more than it was given room for; clamp anyway so the façade's slice
  // can never run past the buffer.
  io[0] = err;
  io[1] = static_cast<int32_t>(static_cast<size_t>(len) > length ? length : static_cast<size_t>(len));
  return Result(info, err);
}

// openSocket(domain, type, protocol): a new socket, close-on-exec so that child processes never
// inherit it (protocol 0 is the family's default; IPPROTO_MPTCP for multipath TCP). Returns the
// fd, or -errno.
Napi::Value OpenSocket(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int32_t domain, type, protocol;
  if (info.Length() < 3 || !ArgInt32(env, info, 0, &domain) || !ArgInt32(env, info, 1, &type) ||
      !ArgInt32(env, info, 2, &protocol)) {
    return Fail(info, "openSocket(domain, type, protocol)");
  }
#if defined(SOCK_CLOEXEC)
  SocketHandle fd = socket(domain, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) return Result(info, -LastSocketError());
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
      return Result(info, -err);
    }
  }
  if (fd == INVALID_SOCKET) return Result(info, -LastSocketError());
#else
  // No SOCK_CLOEXEC (macOS): set FD_CLOEXEC at once; no exec can happen in between on this thread.
  SocketHandle fd = socket(domain, type, protocol);
  if (fd < 0) return Result(info, -LastSocketError());
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    int err = LastSocketError();
    CloseSocket(fd);
    return Result(info, -err);
  }
#endif
  return Result(info, static_cast<int>(fd));
}

// bindSocket(fd, domain, address: string, port, scopeId): bind to an IP literal the façade has
// already checked with net.isIP(); inet_pton parses it. Returns errno or 0 (EINVAL if unparsable).
Napi::Value BindSocket(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int32_t fd, domain, port, scope;
  char address[64];
  size_t length = 0;
  if (info.Length() < 5 || !ArgInt32(env, info, 0, &fd) || !ArgInt32(env, info, 1, &domain) ||
      napi_get_value_string_utf8(env, info[2], address, sizeof address, &length) != napi_ok ||
      !ArgInt32(env, info, 3, &port) || !ArgInt32(env, info, 4, &scope) || port < 0 || port > 65535) {
    return Fail(info, "bindSocket(fd, domain, address: string, port, scopeId)");
  }
  int rc;
  if (domain == AF_INET) {
    sockaddr_in sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, address, &sa.sin_addr) != 1) return Result(info, EINVAL);
    rc = bind(static_cast<SocketHandle>(fd), reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  } else if (domain == AF_INET6) {
    sockaddr_in6 sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(static_cast<uint16_t>(port));
    sa.sin6_scope_id = static_cast<uint32_t>(scope);
    if (inet_pton(AF_INET6, address, &sa.sin6_addr) != 1) return Result(info, EINVAL);
    rc = bind(static_cast<SocketHandle>(fd), reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  } else {
    return Result(info, EAFNOSUPPORT);
  }
  return Result(info, rc == 0 ? 0 : LastSocketError());
}

// listenSocket(fd, backlog): returns errno or 0.
Napi::Value ListenSocket(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int32_t fd, backlog;
  if (info.Length() < 2 || !ArgInt32(env, info, 0, &fd) || !ArgInt32(env, info, 1, &backlog)) {
    return Fail(info, "listenSocket(fd, backlog)");
  }
  return Result(info, listen(static_cast<SocketHandle>(fd), backlog) == 0 ? 0 : LastSocketError());
}

// closeSocket(fd): for sockets this addon opened and nobody else owns yet. Returns errno or 0.
Napi::Value CloseSocketFn(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int32_t fd;
  if (info.Length() < 1 || !ArgInt32(env, info, 0, &fd)) return Fail(info, "closeSocket(fd)");
  return Result(info, CloseSocket(static_cast<SocketHandle>(fd)) == 0 ? 0 : LastSocketError());
}

// pidfdOpen(pid): a pidfd for another process (Linux 5.3+), for borrowing its sockets. Returns the
// fd, or -errno (-ENOSYS where the platform has no such call).
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int32_t pid;
  if (info.Length() < 1 || !ArgInt32(env, info, 0, &pid)) return Fail(info, "pidfdOpen(pid)");
#if defined(SYS_pidfd_open)
  long fd = syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0);
  return Result(info, fd < 0 ? -LastSocketError() : static_cast<int>(fd));
#else
  return Result(info, -ENOSYS);
#endif
}

// pidfdGetfd(pidfd, targetFd): a copy, in this process, of the other process's fd (Linux 5.6+;
// root or CAP_SYS_PTRACE in practice). Close-on-exec. Returns the fd, or -errno.
Napi::Value PidfdGetfd(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int32_t pidfd, target;
  if (info.Length() < 2 || !ArgInt32(env, info, 0, &pidfd) || !ArgInt32(env, info, 1, &target)) {
    return Fail(info, "pidfdGetfd(pidfd, targetFd)");
  }
#if defined(SYS_pidfd_getfd)
  long fd = syscall(SYS_pidfd_getfd, pidfd, target, 0);
  return Result(info, fd < 0 ? -LastSocketError() : static_cast<int>(fd));
#else
  return Result(info, -ENOSYS);
#endif
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
    {"setInts", SetInts},
    {"getInts", GetInts},
    {"getScratchBytes", GetScratchBytes},
    {"bindScratch", Wrap<BindScratch>},
    {"setBytes", Wrap<SetBytes>},
    {"getBytes", Wrap<GetBytes>},
    {"openSocket", Wrap<OpenSocket>},
    {"bindSocket", Wrap<BindSocket>},
    {"listenSocket", Wrap<ListenSocket>},
    {"closeSocket", Wrap<CloseSocketFn>},
    {"pidfdOpen", Wrap<PidfdOpen>},
    {"pidfdGetfd", Wrap<PidfdGetfd>},
};

void FreeScratch(napi_env env, void* data, void*) {
  Scratch* scratch = static_cast<Scratch*>(data);
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
  napi_value constants;
  if (napi_create_object(env, &constants) != napi_ok) return nullptr;
  for (const KnownConstant& c : kKnownConstants) {
    if (!SetNumber(env, constants, c.name, c.value)) return nullptr;
  }
  if (napi_set_named_property(env, exports, "constants", constants) != napi_ok) return nullptr;
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
