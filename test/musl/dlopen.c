// Loads a .node file with musl's dynamic linker (this program is built with musl-gcc), the way
// node on Alpine would dlopen it: relocations, NEEDED libraries and constructors must all work.
// The napi_* functions come from node itself, which is not here, so they stay unresolved (lazy
// binding); everything else must resolve against musl's libc. Prints one JSON line.
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  void* handle = dlopen(argv[1], RTLD_LAZY | RTLD_LOCAL);
  if (!handle) {
    printf("{\"loaded\":false,\"error\":\"%s\"}\n", dlerror());
    return 1;
  }
  void* entry = dlsym(handle, "napi_register_module_v1");
  printf("{\"loaded\":true,\"napiEntry\":%s}\n", entry ? "true" : "false");
  return 0;
}
