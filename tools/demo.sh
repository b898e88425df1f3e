#!/usr/bin/env bash
# The main job: install dependencies, build, and solve the shipped default
# instance (data/default), writing the solution to results/default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
[ -d build ] || meson setup build --buildtype=release >/dev/null
ninja -C build >/dev/null
echo "== altdiff solve data/default --out results/default --grad data/default/w.mtx --matrix-grads"
./build/src/altdiff solve data/default --out results/default --grad data/default/w.mtx --matrix-grads
echo "== solution written to results/default: $(ls results/default | tr '\n' ' ')"
