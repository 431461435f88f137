#!/bin/bash
# check_multi_gpu.sh: the distributed runtime on 2 GPUs of one host (ProcessGroupNCCL), for the lead
# to run when a machine with several GPUs is lent (it has not been run yet). From the repo root:
#   run(command="bash tools/gpu/check_multi_gpu.sh", kind="nvidia-h200-x2", carry=[".debs"], timeout_s=600)
# It unpacks the carried .debs as check.sh does, configures against the PyTorch wheel's libtorch
# with nccl.h from the wheel's nvidia-nccl package, builds zplan-run and the runtime tests, then:
#   1. `zplan --run` on --gpus 2xH100 for ZeRO 0, 1, 2, 3 (zplan starts both ranks itself):
#      losses must agree across stages; per-rank peaks next to the prediction (run records in $OUT)
#   2. Ulysses 2 with ZeRO-3 at 4x the tokens; the ZeRO-3 run under
#      `torchrun --standalone --nproc_per_node 2 --no-python zplan-run`
#   3. a rank killed in backward (ZPLAN_FAULT=kill:1:backward_peak): exit 4 within --comm-timeout
# Env: SCRATCH (default ${TMPDIR:-/tmp}/zplan: build, deps), OUT (default $SCRATCH/out), MODEL (default qwen3-0.6b), SEQ (default 2048).
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRATCH=${SCRATCH:-${TMPDIR:-/tmp}/zplan}  # build, unpacked .debs and temporary files
OUT=${OUT:-$SCRATCH/out}
MODEL=${MODEL:-qwen3-0.6b}
SEQ=${SEQ:-2048}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/check_multi_gpu_log.txt") 2>&1
t_start=$(date +%s)
echo "== check_multi_gpu.sh $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader || true
D=$SCRATCH/deps
mkdir -p $D
for f in "$ROOT"/.debs/*.deb; do [ -f "$f" ] && dpkg -x "$f" $D; done
export LD_LIBRARY_PATH=$D/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
TP=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
NCCL_INC=$(python3 -c 'import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], "include"))' 2>/dev/null)
echo "nccl.h from: ${NCCL_INC:-not found (the runtime will refuse several GPUs)}"
B=$SCRATCH/build-multi
GEN=""
command -v ninja >/dev/null && GEN="-G Ninja"
cmake -S "$ROOT" -B $B $GEN -DCMAKE_PREFIX_PATH="$TP;$D/usr" -DCMAKE_BUILD_TYPE=Release \
  -DTORCH_CUDA_ARCH_LIST=9.0 -DZPLAN_BUILD_RUNTIME=ON -DZPLAN_NCCL_INCLUDE_DIR="$NCCL_INC" 2>&1 | grep "zplan:"
cmake --build $B -j32 --target zplan zplan-run runtime_tests || { echo "BUILD FAILED"; exit 1; }
echo "build seconds $(( $(date +%s) - t_start ))"
Z=$B/tools/zplan
FLAGS="--model $MODEL --gpus 2xH100 --seq $SEQ --ckpt 14 --micro-batch 1 --precision bf16 --steps 3 --comm-timeout 60"

for zero in 0 1 2 3; do
  echo "-- zplan --run, 2 GPUs, ZeRO-$zero"
  "$Z" $FLAGS --zero $zero --run --run-out "$OUT/multi_zero$zero.json" 2>&1 | grep -v "^\[zplan-run\] step [2-9]"
  echo "exit status ${PIPESTATUS[0]} (expected 0)"
done
echo "-- zplan --run, 2 GPUs, Ulysses 2 + ZeRO-3 (at $((SEQ * 4)) tokens)"
"$Z" --model $MODEL --gpus 2xH100 --seq $((SEQ * 4)) --ckpt 14 --micro-batch 1 --precision bf16 --steps 3 \
  --comm-timeout 60 --sp 2 --zero 3 --run --run-out "$OUT/multi_sp2_zero3.json" 2>&1 | grep -v "^\[zplan-run\] step [2-9]"
echo "exit status ${PIPESTATUS[0]} (expected 0)"
echo "-- torchrun --standalone --nproc_per_node 2 --no-python zplan-run (ZeRO-3)"
torchrun --standalone --nproc_per_node 2 --no-python $B/tools/zplan-run $FLAGS --zero 3 --run \
  --run-out "$OUT/multi_torchrun_zero3.json" 2>&1 | tail -25
echo "exit status ${PIPESTATUS[0]} (expected 0)"
echo "-- a rank killed in backward: every rank stops, exit 4"
t0=$(date +%s)
ZPLAN_FAULT=kill:1:backward_peak "$Z" $FLAGS --zero 2 --run --run-out "$SCRATCH/fault.json" 2>&1 | tail -6
echo "exit status ${PIPESTATUS[0]} (expected 4) after $(( $(date +%s) - t0 )) s"
python3 - "$OUT" <<'PY'
import json, sys, glob, os
G = 1024 ** 3
print(f"{'run':28s} {'pred peak':>10s} {'meas peak':>10s} {'pred res':>9s} {'meas res':>9s}  per-rank peaks")
for p in sorted(glob.glob(os.path.join(sys.argv[1], "multi_*.json"))):
    r = json.load(open(p))
    e, m = r["estimate"]["memory"]["gpu"], r["measurement"]["memory"]["gpu"]
    ranks = " ".join(f"{b / G:.2f}" for b in m.get("per_rank_peak_bytes", []))
    print(f"{os.path.basename(p):28s} {e['peak_bytes'] / G:10.2f} {m['peak_bytes'] / G:10.2f} "
          f"{e['reserved_bytes'] / G:9.2f} {m['reserved_bytes'] / G:9.2f}  {ranks}")
PY
echo "total seconds $(( $(date +%s) - t_start ))"
