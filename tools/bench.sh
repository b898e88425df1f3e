#!/usr/bin/env bash
# Scaling experiments: install what is needed, build (release), run the quick
# subset (default, a few minutes on 2 cores) or the full sweep (--full), write
# results/bench.csv and plot it (tools/plot.sh -> results/*.png).
#
#   bash tools/bench.sh            quick subset
#   bash tools/bench.sh --full     full sweep (hours; dense up to n=10000,
#                                  sparsemax to 1e6, grid to k=1000, entropy
#                                  (constrained softmax) to (10000, 3000, 1000))
#   bash tools/bench.sh --no-plot  skip the plots
#
# Each case is one `altdiff bench FAMILY OUT.csv key=value ... [options]`
# call (see `altdiff --help`), which prints a progress line per row. The
# previous results/bench.csv is kept as results/raw/bench-DATE.csv.
# The forward Alt-Diff mode ("altdiff") pays n+m+p tangents for one VJP, so it
# is run only where n+m+p <= ALTDIFF_MAX (quick 3000, full 30000).
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
plot=1
for arg in "$@"; do
  case "$arg" in
    --full) full=1 ;;
    --no-plot) plot=0 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

bash tools/deps.sh
if ! command -v gnuplot >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: gnuplot-nox"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gnuplot-nox >/dev/null
fi
# an optimized build of its own (build/ may be a debug or sanitizer build)
[ -d build-bench ] || meson setup build-bench --buildtype=release -Dtests=disabled >/dev/null
meson configure build-bench -Dbuildtype=release >/dev/null
ninja -C build-bench >/dev/null
bin=build-bench/src/altdiff

out=results/bench.csv
mkdir -p results/raw
[ -f "$out" ] && mv "$out" "results/raw/bench-$(date +%Y%m%d-%H%M%S).csv"

# memory budget: 80% of RAM per run; time budget per solve / per VJP
mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)
if [ $full -eq 1 ]; then
  tb=600; altdiff_max=30000; opts=(--repeat 3 --repeat-time 30)
else
  tb=10; altdiff_max=3000; opts=(--repeat 3 --repeat-time 1)
fi

# case FAMILY N M P key=value... [-- bench options]: one bench call, with the
# altdiff mode only when N + M + P <= altdiff_max
case_() {
  local fam=$1 n=$2 m=$3 p=$4 modes=adjoint,gmres,unroll,kkt
  shift 4
  [ $((n + m + p)) -le $altdiff_max ] && modes=adjoint,gmres,unroll,altdiff,kkt
  "$bin" bench "$fam" "$out" "$@" --modes "$modes" --time-budget "$tb" \
    --mem-budget "$mem" "${opts[@]}"
}

start=$(date +%s)
if [ $full -eq 0 ]; then
  for n in 200 400 700 1000; do               # the paper's dense QP, m = n/2, p = n/5
    case_ dense $n $((n / 2)) $((n / 5)) n=$n m=$((n / 2)) p=$((n / 5))
  done
  for n in 1000 3000 10000; do                # simplex projection
    case_ sparsemax $n 1 $((2 * n)) n=$n
  done
  for n in 30000 100000; do                   # large: loose tolerance only
    case_ sparsemax $n 1 $((2 * n)) n=$n --eps 1e-3 --ref-eps 0
  done
  for r in 1 2 5 10 20; do                    # p/n at n = 1000
    case_ manycon 1000 0 $((1000 * r)) n=1000 ratio=$r
  done
  for k in 30 50 100 150 200 300; do          # grid Laplacian, n = k^2
    case_ grid $((k * k)) $k $((2 * k * k)) k=$k
  done
  for n in 500 1000 2000 4000; do             # random sparse, fill-in
    case_ randsparse $n $((n / 10)) $((n / 2)) n=$n
  done
  case_ entropy 1000 300 100 n=1000 m=300 p=100  # constrained softmax (entropy objective)
else
  for s in "1000 500 200" "2000 1000 400" "3000 1500 600" "5000 2500 1000" "10000 5000 2000"; do
    set -- $s
    case_ dense $1 $2 $3 n=$1 m=$2 p=$3
  done
  for n in 1000 3000 10000 30000 100000 300000 1000000; do
    case_ sparsemax $n 1 $((2 * n)) n=$n
  done
  for r in 1 2 5 10 20 50 100; do
    case_ manycon 1000 0 $((1000 * r)) n=1000 ratio=$r
  done
  for n in 1000 10000 100000; do
    case_ manycon $n 0 $((10 * n)) n=$n ratio=10
  done
  for k in 30 100 200 300 500 700 1000; do
    case_ grid $((k * k)) $k $((2 * k * k)) k=$k
  done
  for n in 1000 2000 4000 8000 16000; do
    case_ randsparse $n $((n / 10)) $((n / 2)) n=$n
  done
  for s in "1000 300 100" "3000 1000 300" "5000 1500 500" "10000 3000 1000"; do
    set -- $s                                 # constrained softmax, dense A and G
    case_ entropy $1 $2 $3 n=$1 m=$2 p=$3
  done
fi
echo "bench.sh: $(($(wc -l < "$out") - 1)) rows in $out, $(($(date +%s) - start)) s"
[ $plot -eq 1 ] && bash tools/plot.sh "$out" results
exit 0
