#!/usr/bin/env bash
# The whole test suite: install dependencies, then build and run every test
# twice: optimized, and in a debug build under AddressSanitizer and
# UndefinedBehaviorSanitizer (leaks are errors there). The Python package's
# tests (python/tests, suite 'python') run in the optimized build only: an
# ASan-instrumented extension would need libasan preloaded into the
# interpreter, so the sanitizer build has -Dpython=disabled.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
[ -d build ] || meson setup build --buildtype=release -Dtests=enabled >/dev/null
ninja -C build >/dev/null
[ -d build-asan ] || meson setup build-asan --buildtype=debug -Dtests=enabled \
  -Db_sanitize=address,undefined -Dwerror=true -Dpython=disabled >/dev/null
meson configure build-asan -Dpython=disabled >/dev/null  # (also for an older build-asan)
ninja -C build-asan >/dev/null
# The fuzzers of the readers (tests/fuzz), 200000 inputs each from a fixed
# seed (about a minute each), when clang with libFuzzer is installed
# (tools/deps.sh installs it): reproducible, so that a run's outcome depends
# on the code only; exploring with fresh seeds is `bash tools/fuzz.sh SECONDS`.
# FUZZ_RUNS=0 skips. They run first, so that the output ends with Meson's
# summary.
runs=${FUZZ_RUNS:-200000}
if [ "$runs" != 0 ] && command -v clang >/dev/null &&
   echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
   clang -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
  echo "== fuzzing the readers, $runs inputs each"
  FUZZ_SEED=${FUZZ_SEED:-1} FUZZ_RUNS=$runs bash tools/fuzz.sh 600
else
  echo "== fuzzers skipped (no clang with libFuzzer)"
fi
echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer"
CK_FORK=no UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --print-errorlogs --num-processes 2
echo "== tests, optimized build"
meson test -C build --print-errorlogs --num-processes 2
