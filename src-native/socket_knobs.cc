// socket-knobs native core: the syscalls and the #ifdef support table, nothing else.
//
// Validation, defaults, units and error typing live in the TypeScript façade (lib/). Every function
// here returns 0 or the errno the kernel gave; it never throws for a kernel error, never aborts, and
// never reads or writes past the typed arrays it is handed (lengths are checked against what the
// caller claims). There is no global mutable state, so the addon is safe in worker threads.
//
// Batch layout: the façade passes one Int32Array `io` it allocates once per thread:
//   io[0]  out: errno of the call that failed (0 when all succeeded)
//   io[1]  out: how many operations succeeded before it (or the length written, for getBytes)
//   io[2 + 3*i .. 4 + 3*i]  operation i: level, option, value (value is in for set, out for get)
// One crossing then applies a whole keepalive configuration, which the benchmark shows pays
// (four syscalls behind one N-API call instead of four calls).

#include <napi.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#ifdef _WIN32
// Node's sockets on Windows are not file descriptors; the façade refuses them before reaching here.
// The code still compiles so that the package installs everywhere.
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mstcpip.h>
typedef int socklen_t;
typedef SOCKET SocketHandle;
static int LastSocketError() { return WSAGetLastError(); }
#else
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
typedef int SocketHandle;
static int LastSocketError() { return errno; }
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
bool ArgTypedArray(napi_env env, const Napi::CallbackInfo& info, size_t index, napi_typedarray_type want,
                   void** data, size_t* length) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, info[index], &type, length, data, &buffer, &offset) != napi_ok) return false;
  return type == want && (*data != nullptr || *length == 0);
}

Napi::Value Fail(const Napi::CallbackInfo& info, const char* what) {
  // Only reachable by calling the internal binding directly with wrong types: the façade validates.
  Napi::TypeError::New(info.Env(), what).ThrowAsJavaScriptException();
  return info.Env().Undefined();
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
    if (setsockopt(static_cast<SocketHandle>(fd), op[0], op[1], reinterpret_cast<const char*>(&value),
                   sizeof value) != 0) {
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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Object constants = Napi::Object::New(env);
  for (const KnownConstant& c : kKnownConstants) constants.Set(c.name, Napi::Number::New(env, c.value));
  exports.Set("constants", constants);
  exports.Set("setInts", Napi::Function::New(env, SetInts, "setInts"));
  exports.Set("getInts", Napi::Function::New(env, GetInts, "getInts"));
  exports.Set("setBytes", Napi::Function::New(env, SetBytes, "setBytes"));
  exports.Set("getBytes", Napi::Function::New(env, GetBytes, "getBytes"));
  return exports;
}

}  // namespace

NODE_API_MODULE(socket_knobs, Init)
