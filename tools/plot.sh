#!/usr/bin/env bash
# Plots of an `altdiff bench` CSV (tools/bench.sh) with gnuplot, as PNGs:
#
#   bash tools/plot.sh [CSV [OUTDIR]]      (default results/bench.csv, results)
#
#   time_FAMILY.png    solve time (t_setup + t_iterate) and VJP time per mode
#                      vs n, log-log, least-squares slope in the legend (one
#                      per family with more than one n; time_entropy.png for
#                      the constrained softmax of the --full sweep)
#   ratio_vs_n.png     VJP time / solve time vs n, per mode, one panel a family
#   memory_vs_n.png    peak RSS vs n per mode, one panel a family
#   accuracy_vs_eps.png  rel_err of (dq, db, dh) against the reference vs the
#                      tolerance eps (truncation trade-off), per mode, at the
#                      largest n of each family that has a reference
#   manycon_ratio.png  solve and VJP times vs p/n at fixed n (manycon)
#   dense_table.md     the dense-QP table (time and cosine similarity per size
#                      and mode) for results/README.md
#   entropy_table.md   the same table for the entropy family (with rel_err),
#                      when the CSV has entropy rows
#
# Times, ratios and memory are taken at one tolerance: EPS=1e-6 (environment)
# by default. Only rows with status ok are plotted.
set -euo pipefail
csv=${1:-results/bench.csv}
dir=${2:-results}
eps=${EPS:-1e-6}
modes="adjoint gmres unroll altdiff kkt"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$dir"

# series FAMILY EPS MODE X Y: "x y" lines, sorted by x, from rows with status
# ok (MODE solve: the forward solve of the case, once per case). X: n | pn
# (p/n) | eps. Y: fwd | bwd | ratio | rss | rel | cos. EPS empty: any.
series() {
  awk -F, -v fam="$1" -v eps="$2" -v mode="$3" -v X="$4" -v Y="$5" '
    NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    function v(name) { return $c[name] }
    v("family") != fam || (eps != "" && v("eps") + 0 != eps + 0) { next }
    mode == "solve" {
      if (v("mode") == "unroll" || v("t_iterate") == "" || v("status") == "unsolved") next
      if (seen[v("n") "," v("p") "," v("eps")]++) next
    }
    mode != "solve" && (v("mode") != mode || v("status") != "ok") { next }
    {
      fwd = v("t_setup") + v("t_iterate")
      x = X == "n" ? v("n") : X == "pn" ? v("p") / v("n") : v("eps")
      if (Y == "fwd") y = fwd
      else if (Y == "bwd") y = v("t_backward")
      else if (Y == "ratio") y = fwd > 0 ? v("t_backward") / fwd : ""
      else if (Y == "rss") y = v("peak_rss_mb")
      else if (Y == "cos") y = v("cos_sim")
      else { y = v("rel_err"); if (y != "" && y + 0 < 1e-16) y = 1e-16 }
      if (y != "" && y + 0 > 0) print x, y
    }' "$csv" | sort -g
}

# slope FILE: least-squares slope of log y vs log x ("" below 2 points)
slope() {
  awk '{ x = log($1); y = log($2); n++; sx += x; sy += y; sxx += x * x; sxy += x * y }
       END { d = n * sxx - sx * sx; if (n >= 2 && d > 0) printf "%.2f", (n * sxy - sx * sy) / d }' "$1"
}

# The families with more than one n; the tolerance shown for FAMILY
multi_n() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
           !s[$c["family"] "," $c["n"]]++ { k[$c["family"]]++ }
           END { for (f in k) if (k[f] > 1) print f }' "$csv" | sort
}

styles='set style line 1 lc rgb "#000000" lw 2 pt 7 ps 1.2
set style line 2 lc rgb "#1f77b4" lw 2 pt 5 ps 1.2
set style line 3 lc rgb "#ff7f0e" lw 2 pt 9 ps 1.4
set style line 4 lc rgb "#2ca02c" lw 2 pt 11 ps 1.4
set style line 5 lc rgb "#d62728" lw 2 pt 13 ps 1.4
set style line 6 lc rgb "#9467bd" lw 2 pt 3 ps 1.2
set grid lc rgb "#dddddd"
set key left top box opaque samplen 2 font ",9"'

# plot_cmd FILE... with titles: a gnuplot "plot" line over the non-empty files
# (args: file title linestyle ...)
plot_cmd() {
  local cmd="" sep="plot "
  while [ $# -gt 0 ]; do
    if [ -s "$1" ]; then
      cmd+="$sep'$1' using 1:2 with linespoints ls $3 title '$2'"
      sep=", "
    fi
    shift 3
  done
  [ -n "$cmd" ] && echo "$cmd" || echo "set label 1 'no data' at graph 0.4, 0.5; plot 1/0 notitle"
}

# ---- time vs n, one PNG per family -------------------------------------------
families=$(multi_n)
for f in $families; do
  args=()
  series "$f" "$eps" solve n fwd > "$tmp/$f.solve"
  args+=("$tmp/$f.solve" "solve (slope $(slope "$tmp/$f.solve"))" 1)
  ls=2
  for m in $modes; do
    series "$f" "$eps" "$m" n bwd > "$tmp/$f.$m"
    args+=("$tmp/$f.$m" "$m VJP (slope $(slope "$tmp/$f.$m"))" $ls)
    ls=$((ls + 1))
  done
  gnuplot <<EOF
set terminal pngcairo size 800,600 font ",11"
set output "$dir/time_$f.png"
$styles
set logscale xy
set format y "10^{%L}"
set xlabel "n"
set ylabel "seconds (median)"
set title "$f: solve and VJP time vs n at eps = $eps"
$(plot_cmd "${args[@]}")
EOF
done

# ---- panels (one per family) ------------------------------------------------
# panels OUT TITLE YLABEL Y XLOG: a multiplot of series(f, eps, mode, n, Y)
panels() {
  local out=$1 title=$2 ylabel=$3 y=$4 count layout
  count=$(echo $families | wc -w)
  [ "$count" -gt 0 ] || return 0
  layout="$(( (count + 1) / 2 )),2"
  [ "$count" -eq 1 ] && layout="1,1"
  {
    echo "set terminal pngcairo size 1100,$(( 430 * ((count + 1) / 2) )) font ',10'"
    echo "set output '$out'"
    echo "$styles"
    echo "set multiplot layout $layout title '$title'"
    echo "set logscale xy; set format y '10^{%L}'; set xlabel 'n'; set ylabel '$ylabel'"
    for f in $families; do
      local args=() ls=2
      for m in $modes; do
        series "$f" "$eps" "$m" n "$y" > "$tmp/p.$f.$m"
        args+=("$tmp/p.$f.$m" "$m" $ls)
        ls=$((ls + 1))
      done
      echo "set title '$f'"
      plot_cmd "${args[@]}"
    done
    echo "unset multiplot"
  } | gnuplot
}
panels "$dir/ratio_vs_n.png" "VJP time / solve time (setup + iterate) vs n, eps = $eps" \
  "backward / forward" ratio
panels "$dir/memory_vs_n.png" "peak RSS (VmHWM of the run) vs n, eps = $eps" "MB" rss

# ---- accuracy vs eps --------------------------------------------------------
all=$(awk -F, 'NR > 1 { print $1 }' "$csv" | sort -u)
count=$(echo $all | wc -w)
{
  echo "set terminal pngcairo size 1100,$(( 430 * ((count + 1) / 2) )) font ',10'"
  echo "set output '$dir/accuracy_vs_eps.png'"
  echo "$styles"
  echo "set multiplot layout $(( (count + 1) / 2 )),2 title 'rel. error of (dq, db, dh) vs tolerance eps (reference: KKT mode at eps 1e-10; 1e-16 = exact)'"
  echo "set logscale xy; set format x '10^{%L}'; set format y '10^{%L}'; set xlabel 'eps'"
  echo "set ylabel 'relative error'; set xrange [*:*] reverse; set autoscale xfix; set offsets graph 0.05, graph 0.05, 0, 0; set key right top"
  for f in $all; do
    # the largest n of f with a reference (a rel_err)
    n=$(awk -F, -v f="$f" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
          $1 == f && $c["rel_err"] != "" && $c["n"] + 0 > best { best = $c["n"] + 0; p = $c["p"] }
          END { if (best) print best, p }' "$csv")
    [ -n "$n" ] || continue
    set -- $n
    args=("$tmp/eps.line" "y = eps" 1)
    ls=2
    for m in $modes; do
      awk -F, -v f="$f" -v n="$1" -v p="$2" -v m="$m" '
        NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        $1 == f && $c["n"] == n && $c["p"] == p && $c["mode"] == m && $c["rel_err"] != "" &&
          ($c["status"] == "ok" || $c["status"] == "bwd_maxiter") {
          y = $c["rel_err"] + 0; print $c["eps"], (y < 1e-16 ? 1e-16 : y) }' "$csv" |
        sort -g > "$tmp/a.$f.$m"
      args+=("$tmp/a.$f.$m" "$m" $ls)
      ls=$((ls + 1))
    done
    awk -F, -v f="$f" 'NR > 1 && $1 == f { print $8, $8 }' "$csv" | sort -gu > "$tmp/eps.line"
    echo "set title '$f, n = $1, p = $2'"
    plot_cmd "${args[@]}" | sed "s|ls 1 title 'y = eps'|dt 2 lc rgb '#888888' lw 1 title 'y = eps'|"
  done
  echo "unset multiplot"
} | gnuplot

# ---- manycon: time vs p/n at fixed n ---------------------------------------
if grep -q '^manycon,' "$csv"; then
  nfix=$(awk -F, '$1 == "manycon" { k[$2]++ } END { for (n in k) if (k[n] > best) { best = k[n]; b = n }; print b }' "$csv")
  awk -F, -v n="$nfix" 'NR == 1 || ($1 == "manycon" && $2 == n)' "$csv" > "$tmp/mc.csv"
  args=()
  csv_save=$csv
  csv=$tmp/mc.csv
  series manycon "$eps" solve pn fwd > "$tmp/mc.solve"
  args+=("$tmp/mc.solve" "solve (slope $(slope "$tmp/mc.solve"))" 1)
  ls=2
  for m in $modes; do
    series manycon "$eps" "$m" pn bwd > "$tmp/mc.$m"
    args+=("$tmp/mc.$m" "$m VJP (slope $(slope "$tmp/mc.$m"))" $ls)
    ls=$((ls + 1))
  done
  csv=$csv_save
  gnuplot <<EOF
set terminal pngcairo size 800,600 font ",11"
set output "$dir/manycon_ratio.png"
$styles
set logscale xy
set format y "10^{%L}"
set xlabel "p / n (inequality rows per variable)"
set ylabel "seconds (median)"
set title "manycon, n = $nfix: solve and VJP time vs p/n at eps = $eps"
$(plot_cmd "${args[@]}")
EOF
fi

# ---- tables per size and tolerance -------------------------------------------
# table FAMILY REL: markdown, one row per (n, m, p, eps), a cell per mode:
# "VJP time / cos_sim" (REL = 1: "VJP time / cos_sim / rel_err")
table() {
  awk -F, -v fam="$1" -v rel="$2" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  $1 == fam {
    key = $c["n"] "," $c["m"] "," $c["p"] "," $c["eps"]
    if (!(key in seen)) { seen[key] = 1; order[++k] = key }
    t = $c["status"] == "ok" ? sprintf("%.3g s", $c["t_backward"]) : $c["status"]
    cs = $c["cos_sim"] == "" ? "-" : sprintf("%.6f", $c["cos_sim"])
    if (rel) cs = cs " / " ($c["rel_err"] == "" ? "-" : sprintf("%.1e", $c["rel_err"]))
    cell[key, $c["mode"]] = t " / " cs
    if ($c["mode"] != "unroll" && $c["t_iterate"] != "" && !(key in fwd))
      fwd[key] = sprintf("%.3g s (%d it)", $c["t_setup"] + $c["t_iterate"], $c["fwd_iter"])
  }
  END {
    print "| n | m | p | eps | solve (setup + iterate) | adjoint | gmres | unroll | altdiff | kkt |"
    print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= k; i++) {
      split(order[i], a, ",")
      line = "| " a[1] " | " a[2] " | " a[3] " | " a[4] " | " (order[i] in fwd ? fwd[order[i]] : "-")
      split("adjoint gmres unroll altdiff kkt", ms, " ")
      for (j = 1; j <= 5; j++) line = line " | " ((order[i], ms[j]) in cell ? cell[order[i], ms[j]] : "-")
      print line " |"
    }
  }' "$csv"
}
table dense 0 > "$dir/dense_table.md"
tables=dense_table.md
if grep -q '^entropy,' "$csv"; then
  table entropy 1 > "$dir/entropy_table.md"
  tables="$tables, entropy_table.md"
fi
echo "plot.sh: $(ls "$dir"/*.png | wc -l) PNGs and $tables in $dir"
