#!/usr/bin/env bash
# Wall time of whole zplan processes (start-up included), median of 15 runs each, side by side:
# a pinned prediction against its 50 ms target and the mission's plan search against 200 ms; then
# the in-process figures of zplan_bench. Also the --gpus auto hardware search against 1 s, with and
# without its pruning. Usage: bash tools/bench_planner.sh [build dir]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release}/tools
median_ms() {
  local runs=() start end
  local n=${RUNS:-15}
  for _ in $(seq "$n"); do
    start=$(date +%s%N); "$@" >/dev/null; end=$(date +%s%N)
    runs+=($(( (end - start) / 1000 )))
  done
  printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(( (n + 1) / 2 ))p" | awk '{printf "%.1f", $1 / 1000}'
}
one=$(median_ms "$bin/zplan" --model qwen3-30b-a3b --gpus 8xH100 --seq 16384 --zero 3 --ckpt full --sp 8 --micro-batch 1 --precision bf16)
search=$(median_ms "$bin/zplan" --model qwen3-30b --gpus 8xH100 --seq 16384)
# The hardware and price search (issue 22): every built-in GPU type and count up to 64, both
# objectives, with its branch and bound and without it (every candidate searched in full), side by side.
hardware=$(median_ms "$bin/zplan" --model qwen3-30b --gpus auto --seq 16384 --tokens 2e9)
hardware_time=$(median_ms "$bin/zplan" --model qwen3-30b --gpus auto --seq 16384 --tokens 2e9 --objective time)
exhaustive=$(RUNS=3 ZPLAN_EXHAUSTIVE_HARDWARE_SEARCH=1 median_ms "$bin/zplan" --model qwen3-30b --gpus auto --seq 16384 --tokens 2e9)
echo "process wall time, median of 15 (no pruning: of 3; this machine: $(nproc) cores)"
awk -v a="$one" -v b="$search" -v c="$hardware" -v d="$hardware_time" -v e="$exhaustive" 'BEGIN {
  printf "  pinned prediction          %8.1f ms   target 50 ms   ratio %.2f\n", a, a / 50;
  printf "  plan search                %8.1f ms   target 200 ms  ratio %.2f\n", b, b / 200;
  printf "  --gpus auto, cost          %8.1f ms   target 1000 ms ratio %.2f\n", c, c / 1000;
  printf "  --gpus auto, time          %8.1f ms   target 1000 ms ratio %.2f\n", d, d / 1000;
  printf "  --gpus auto, no pruning    %8.1f ms   pruned/exhaustive %.2f\n", e, c / e }'
"$bin/zplan_bench"
