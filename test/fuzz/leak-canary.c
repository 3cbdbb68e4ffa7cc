// A deliberate leak, for `npm run test:asan` to prove that its leak detection (with the
// suppressions in lsan.supp) still reports a leak made by an addon's own code.
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

static void* volatile last;

static napi_value Leak(napi_env env, napi_callback_info info) {
  (void)info;
  char* lost = malloc(100);
  memset(lost, 1, 100);
  last = lost;
  last = NULL;  // the only pointer is gone: a definite leak
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "leak", NAPI_AUTO_LENGTH, Leak, NULL, &fn);
  napi_set_named_property(env, exports, "leak", fn);
  return exports;
}
