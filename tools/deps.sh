#!/usr/bin/env bash
# Install the Debian 12 packages altdiff needs (as root, or through sudo).
# clang and libclang-rt-14-dev are for the fuzzers that tools/test.sh runs
# (tools/fuzz.sh).
set -euo pipefail
pkgs=(build-essential meson ninja-build pkg-config libsuitesparse-dev libmetis-dev
      libopenblas-dev check zlib1g-dev
      python3-dev python3-numpy python3-scipy python3-torch python3-matplotlib
      clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
