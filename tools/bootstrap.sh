#!/usr/bin/env bash
# First command of README.md: install zplan's dependencies from Debian 12 packages, build the
# release preset, and plan the mission's example (Qwen3-30B-A3B, 16K tokens, 8x H100) with its
# decision tree. Safe to re-run; uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
cmake --preset release
cmake --build --preset release
echo
echo "== zplan --model qwen3-30b --gpus 8xH100 --seq 16384 --explain"
build/release/tools/zplan --model qwen3-30b --gpus 8xH100 --seq 16384 --explain
