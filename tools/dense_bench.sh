#!/bin/bash
# dense_bench.sh: the dense QP benchmark (bench/dense_bench.c) and the ratio to
# the previous release, in the same run. Builds this tree (build-dense/) and
# the previous release (default 4a2307d, or $PREV) in a worktree under /tmp,
# generates the paper's dense QPs with `altdiff gen dense`, runs
# altdiff-bench-dense on them, then `altdiff solve --grad` of both builds on
# the same directories (polishing off in this build: the previous release had
# none), printing setup, iterate and backward seconds and the ratio of their
# sums (previous / this), with and without setup.
#   usage: bash tools/dense_bench.sh [n,m,p ...]   (default the three sizes)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prev=${PREV:-4a2307d}
work=${WORK:-/tmp/altdiff-dense-bench}
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1000,500,200 2000,1000,500 5000,2000,1000)
mkdir -p "$work"

build() { # SRC BUILDDIR
    local opts=(--buildtype=release -Dtests=disabled)
    grep -q "'python'" "$1/meson_options.txt" && opts+=(-Dpython=disabled)
    [ -f "$2/build.ninja" ] || meson setup "$2" "$1" "${opts[@]}" >/dev/null
    ninja -j1 -C "$2" >/dev/null
}
build "$root" "$root/build-dense"
if [ ! -d /tmp/altdiff-prev ]; then git -C "$root" worktree add --detach /tmp/altdiff-prev "$prev" >/dev/null; fi
build /tmp/altdiff-prev /tmp/altdiff-prev/build
new="$root/build-dense/src/altdiff"
old=/tmp/altdiff-prev/build/src/altdiff

dirs=()
for s in "${sizes[@]}"; do
    IFS=, read -r n m p <<<"$s"
    d="$work/dense_${n}_${m}_${p}"
    [ -f "$d/P.mtx" ] || "$new" gen dense "$d" n="$n" m="$m" p="$p" >/dev/null
    [ -f "$d/w.mtx" ] || { printf '%%%%MatrixMarket matrix array real general\n%s 1\n' "$n"
                           for ((k = 0; k < n; k++)); do echo "0.$(( (k * 7919) % 1000 + 1 ))"; done; } >"$d/w.mtx"
    dirs+=("$d")
done

echo "== altdiff-bench-dense (this tree)"
"$root/build-dense/src/altdiff-bench-dense" --reps 3 "${dirs[@]}"

# seconds of setup + iterate (+ polish) + backward from a summary (time: line
# and the derivative line)
summary() { # BIN DIR [options]
    local bin=$1 dir=$2; shift 2
    "$bin" solve "$dir" --grad "$dir/w.mtx" --out "$work/out" "$@" 2>&1 |
        awk '/^iterations:/ {it=$2}
             /^time:/ {for (i = 1; i <= NF; i++) { if ($i == "setup") s=$(i+1); if ($i == "iterate") t=$(i+1) }}
             /^polish:/ {pol=$(NF-1); gsub(/[(]/, "", pol)}
             /^backward:/ {for (i = 1; i <= NF; i++) if ($i == "time") b=$(i+1)}
             END {printf "%s %s %s %s %s\n", s+0, t+0, pol+0, b+0, it+0}'
}
echo
echo "== altdiff solve --grad: this tree (--polish 0) vs previous release $prev"
printf '%-22s %-34s %-34s %s\n' problem "this: setup iterate backward (it)" "previous: setup iterate backward (it)" "previous/this (without setup)"
for d in "${dirs[@]}"; do
    read -r s1 t1 p1 b1 i1 <<<"$(summary "$new" "$d" --polish 0)"
    read -r s0 t0 p0 b0 i0 <<<"$(summary "$old" "$d")"
    awk -v d="$(basename "$d")" -v s1="$s1" -v t1="$t1" -v b1="$b1" -v i1="$i1" \
        -v s0="$s0" -v t0="$t0" -v b0="$b0" -v i0="$i0" 'BEGIN {
        printf "%-22s %7.3f %7.3f %7.3f (%s)%6s %7.3f %7.3f %7.3f (%s)%6s %.2fx (%.2fx)\n", d,
               s1, t1, b1, i1, "", s0, t0, b0, i0, "", (s0 + t0 + b0) / (s1 + t1 + b1),
               (t0 + b0) / (t1 + b1) }'
done
