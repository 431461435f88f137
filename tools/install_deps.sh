#!/usr/bin/env bash
# Installs the Debian 12 packages zplan builds and tests with (only those still missing).
# libtorch-dev is Debian's CPU libtorch: with it the runtime (zplan --run) and its CPU tests build;
# libgloo-dev holds the Gloo headers c10d's ProcessGroupGloo.hpp includes (several CPU ranks, and
# the distributed tests).
# chromium renders the HTML report in the browser test; clang and libclang-rt-14-dev (libFuzzer,
# ASan, UBSan runtimes) build the parsers' fuzz targets (tools/fuzz.sh).
set -euo pipefail
packages=(g++ cmake make libyaml-cpp-dev nlohmann-json3-dev libcli11-dev doctest-dev libeigen3-dev libtorch-dev libgloo-dev chromium clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all packages present"
  exit 0
fi
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
echo "install_deps: installing ${missing[*]}"
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
