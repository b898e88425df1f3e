#!/usr/bin/env bash
# Build the libFuzzer harnesses of tests/fuzz with clang (-fsanitize=fuzzer,
# address,undefined) and run each for SECONDS (default 60). New inputs go to
# build-fuzz/corpus-NAME (the seeds in tests/fuzz/corpus stay untouched);
# crashes, leaks, timeouts and OOMs leave artifacts in build-fuzz/ and fail
# the run. Needs clang and libclang-rt-14-dev (tools/deps.sh --fuzz).
#   bash tools/fuzz.sh [SECONDS] [mm|problem ...]
# FUZZ_SEED=S FUZZ_RUNS=N: a reproducible run instead (the test command's):
# N inputs from seed S, starting from the shipped seeds only (new inputs go
# to a scratch corpus emptied first), so that its outcome depends on the
# code and not on the clock or on earlier runs; SECONDS stays as a cap.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(mm problem)
CC=${FUZZ_CC:-clang}
out=build-fuzz
mkdir -p "$out"
src=(sparse/alloc.c sparse/csc.c sparse/vec.c sparse/mm.c src/problem_io.c)
flags=(-g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -DALTDIFF_BUILDING
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Iinclude -Isparse -Isrc -I/usr/include/suitesparse)
for t in "${targets[@]}"; do
  "$CC" "${flags[@]}" "${src[@]}" "tests/fuzz/fuzz_$t.c" -o "$out/fuzz_$t" \
    -lcxsparse -lsuitesparseconfig -lm
  corpus="$out/corpus-$t"
  extra=()
  if [ -n "${FUZZ_SEED:-}" ]; then
    corpus="$out/corpus-$t-seed$FUZZ_SEED"
    rm -rf "$corpus"
    extra=(-seed="$FUZZ_SEED" -runs="${FUZZ_RUNS:-100000}")
    echo "== fuzz_$t: ${FUZZ_RUNS:-100000} inputs from seed $FUZZ_SEED (at most $secs s)"
  else
    echo "== fuzz_$t: $secs s"
  fi
  mkdir -p "$corpus"
  # -rss_limit_mb/-malloc_limit_mb: an input may not make the readers use
  # more than 512 MB (the reader's memory is bounded by the input's bytes)
  "$out/fuzz_$t" "$corpus" "tests/fuzz/corpus/$t" -max_total_time="$secs" ${extra[@]+"${extra[@]}"} \
    -max_len=65536 -timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=512 \
    -artifact_prefix="$out/$t-" -print_final_stats=1 2>&1 | tee "$out/fuzz_$t.log" |
    grep -E "^(INFO: Seed|#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)" || true
  # a failure leaves an artifact: it fails the run when it fails again on
  # its own (a signal from outside the harness does not reproduce; the input
  # is kept as flaky-*, the whole log in $out/fuzz_NAME.log)
  for a in "$out/$t-"*; do
    [ -e "$a" ] || continue
    if "$out/fuzz_$t" "$a" >"$out/rerun-${a##*/}.log" 2>&1; then
      echo "fuzz_$t: $a did not fail again when run alone: kept as $out/flaky-${a##*/}"
      mv "$a" "$out/flaky-${a##*/}"
    else
      echo "fuzz_$t: found a failing input: $a"
      tail -n 30 "$out/rerun-${a##*/}.log"
      exit 1
    fi
  done
done
