#!/usr/bin/env bash
# The whole test suite: install dependencies, then build and run every test
# twice: optimized, and in a debug build under AddressSanitizer and
# UndefinedBehaviorSanitizer (leaks are errors there).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
[ -d build ] || meson setup build --buildtype=release -Dtests=enabled >/dev/null
ninja -C build >/dev/null
[ -d build-asan ] || meson setup build-asan --buildtype=debug -Dtests=enabled \
  -Db_sanitize=address,undefined -Dwerror=true >/dev/null
ninja -C build-asan >/dev/null
echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
CK_FORK=no UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --print-errorlogs --num-processes 2
echo "== tests, optimized build"
meson test -C build --print-errorlogs --num-processes 2
# The fuzzers of the readers (tests/fuzz), about a minute each, when clang
# with libFuzzer is installed (bash tools/deps.sh --fuzz); FUZZ_SECONDS=0 skips.
secs=${FUZZ_SECONDS:-60}
if [ "$secs" != 0 ] && command -v clang >/dev/null &&
   echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
   clang -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
  echo "== fuzzing the readers, $secs s each"
  bash tools/fuzz.sh "$secs"
else
  echo "== fuzzers skipped (no clang with libFuzzer: bash tools/deps.sh --fuzz)"
fi
