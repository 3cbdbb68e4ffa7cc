// socket-knobs native core: the syscalls and the #ifdef support table, nothing else.
// (setsockopt/getsockopt on any fd; socket/bind/listen/close for listening sockets whose options
// must be set before bind, which net.Server.listen() cannot do.)
//
// Validation, defaults, units and error typing live in the TypeScript façade (lib/). Every function
// here returns 0 or the errno the kernel gave; it never throws for a kernel error, never aborts, and
// never reads or writes past the typed arrays it is handed (lengths are checked against what the
// caller claims). There is no global mutable state, so the addon is safe in worker threads.
//
// Batch layout (lib/core/syscall.ts names it BATCH): one Int32Array `io` allocated once per thread:
//   io[0]  out: errno of the call that failed (0 when all succeeded)
//   io[1]  out: how many operations succeeded before it (or the length written, for getBytes)
//   io[2 + 3*i .. 4 + 3*i]  operation i: level, option, value (value is in for set, out for get)
// One crossing then applies a whole keepalive configuration, which the benchmark shows pays
// (four syscalls behind one N-API call instead of four calls).

#include <napi.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include <cstring>

#ifdef _WIN32
// Node's sockets on Windows are not file descriptors; the façade refuses them before reaching here.
// The code still compiles so that the package installs everywhere.
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
typedef int SocketHandle;
static int LastSocketError() { return errno; }
static int CloseSocket(SocketHandle fd) { return close(fd); }
#endif

namespace {

struct KnownConstant {
  const char* name;
  int value;
};

#include "table.gen.h"

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

// setInts(fd, io: Int32Array, count): setsockopt(fd, level, option, &value, sizeof(int)) for each op.
Napi::Value SetInts(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int32_t fd, count;
  void* data;
  size_t length;
  if (info.Length() < 3 || !ArgInt32(env, info, 0, &fd) || !ArgInt32(env, info, 2, &count) ||
      !ArgTypedArray(env, info, 1, napi_int32_array, &data, &length) || count < 0 ||
      length < kHeader + kOpWidth * static_cast<size_t>(count)) {
    return Fail(info, "setInts(fd, io: Int32Array, count)");
  }
  int32_t* io = static_cast<int32_t*>(data);
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
  return Result(info, err);
}

// getInts(fd, io: Int32Array, count): getsockopt of an int for each op, written into its value slot.
Napi::Value GetInts(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  int32_t fd, count;
  void* data;
  size_t length;
  if (info.Length() < 3 || !ArgInt32(env, info, 0, &fd) || !ArgInt32(env, info, 2, &count) ||
      !ArgTypedArray(env, info, 1, napi_int32_array, &data, &length) || count < 0 ||
      length < kHeader + kOpWidth * static_cast<size_t>(count)) {
    return Fail(info, "getInts(fd, io: Int32Array, count)");
  }
  int32_t* io = static_cast<int32_t*>(data);
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
  return Result(info, err);
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
  SocketHandle fd = socket(domain, type, protocol);
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
    {"setInts", Wrap<SetInts>},           {"getInts", Wrap<GetInts>},           {"setBytes", Wrap<SetBytes>},
    {"getBytes", Wrap<GetBytes>},         {"openSocket", Wrap<OpenSocket>},     {"bindSocket", Wrap<BindSocket>},
    {"listenSocket", Wrap<ListenSocket>}, {"closeSocket", Wrap<CloseSocketFn>},
};

napi_value Init(napi_env env, napi_value exports) {
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
// The musl prebuild (npm run prebuild:musl) links against musl's libc and no libstdc++, so it loads
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
