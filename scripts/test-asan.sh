#!/usr/bin/env bash
# npm run test:asan: rebuilds the addon with AddressSanitizer and UndefinedBehaviorSanitizer (gcc,
# from Debian's packages), runs the test files that drive the addon in-process, plus the fuzz run,
# with the sanitizer runtimes preloaded into node, then rebuilds the normal addon (also on failure).
# Extra arguments go to jest (e.g. --json --outputFile=...).
#
# Not included: the package test (npm, cc and prebuildify under a preloaded ASan runtime report the
# toolchain's own leaks), the namespace suite (ip, nft, tcpdump likewise) and the support-table test
# (it compiles with cc and runs python3); they exercise the same native calls as the files below.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize='-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1'
restore() {
  echo '== rebuilding the normal addon'
  env -u CFLAGS -u CXXFLAGS -u LDFLAGS -u LD_PRELOAD -u ASAN_OPTIONS -u LSAN_OPTIONS -u UBSAN_OPTIONS npx node-gyp rebuild >/dev/null 2>&1 || echo 'warning: the normal rebuild failed; run npm run build'
}
trap restore EXIT

echo "== building the addon with $sanitize"
CFLAGS="$sanitize" CXXFLAGS="$sanitize" LDFLAGS='-fsanitize=address,undefined' npx node-gyp rebuild >/dev/null
addon=build/Release/socket_knobs.node
# (The symbols are read whole first: `nm | grep -q` under pipefail fails when grep stops reading
# before nm has written everything, a SIGPIPE that grows likelier with the symbol table.)
symbols=$(nm -D "$addon")
if ! grep -q __asan_init <<<"$symbols" || ! grep -q __ubsan <<<"$symbols"; then
  echo "error: $addon is not instrumented" >&2
  exit 1
fi
echo "== $addon is instrumented (ASan and UBSan symbols present)"

preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS='detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:malloc_context_size=3'
export LSAN_OPTIONS="suppressions=$PWD/test/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS='halt_on_error=1:print_stacktrace=1'

# The leak check must still see an addon's own leak: a canary addon that leaks 100 bytes.
canary_dir=$(mktemp -d)
node_headers="$(dirname "$(command -v node)")/../include/node"
gcc $sanitize -shared -fPIC -I"$node_headers" -o "$canary_dir/canary.node" test/fuzz/leak-canary.c -fsanitize=address,undefined
if LD_PRELOAD="$preload" node -e "require('$canary_dir/canary.node').leak()" >"$canary_dir/out" 2>&1; then
  echo 'error: the leak canary was not reported: leak detection is not working' >&2
  exit 1
fi
grep -q 'Direct leak of 100 byte' "$canary_dir/out" || { cat "$canary_dir/out" >&2; exit 1; }
rm -rf "$canary_dir"
echo '== leak detection works: the canary addon'"'"'s 100-byte leak was reported'

export LD_PRELOAD="$preload"
echo "== jest under LD_PRELOAD=$preload"
npx jest --runInBand test/unit test/system/reliability.test.js test/system/fuzz.test.js "$@"
