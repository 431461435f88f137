#!/bin/bash
# hf_checkpoint_check.sh: Hugging Face checkpoints in and out of zplan's runtime, against
# transformers, on the GPU machine (run on an H100: docs/measurements/2026-12-05/).
#   run(command="bash tools/gpu/hf_checkpoint_check.sh", carry=[".debs"], timeout_s=600)
# Builds only zplan-run (as tools/gpu/check.sh does: the carried .debs unpacked into
# $SCRATCH/deps, libtorch from the torch wheel, build in $SCRATCH/build, reused when check.sh ran
# before in the same warm session), then runs tools/gpu/hf_checkpoint_check.py, which for gpt2,
# llama, qwen3, qwen3-moe, gemma3 and mixtral (tiny configs, seed 1234; transformers 5.17, torch 2.11) in bf16 and fp32:
#   (a) saves a transformers model, loads it with `zplan-run --init-from DIR --steps 0 --eval-data`
#       and compares the loss on fixed tokens with transformers' (relative: bf16 1e-2, fp32 1e-5);
#   (b) trains 3 steps from it with `--save-hf OUT`, loads OUT with from_pretrained (no missing,
#       unexpected or mismatched keys allowed) and compares the loss on the same tokens.
# Results in $OUT (default $SCRATCH/out): hf_checkpoint_check.txt (one JSON line per comparison and
# a summary), hf_logs/ (every zplan-run call's output). Exit status 0 when all comparisons pass.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRATCH=${SCRATCH:-${TMPDIR:-/tmp}/zplan}
OUT=${OUT:-$SCRATCH/out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/hf_checkpoint_check.txt") 2>&1
echo "== hf_checkpoint_check.sh $(date -u +%FT%TZ)"
python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)' || exit 1

D=$SCRATCH/deps
mkdir -p "$D"
for f in "$ROOT"/.debs/*.deb; do [ -f "$f" ] && dpkg -x "$f" "$D"; done
export LD_LIBRARY_PATH=$D/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
TP=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
B=$SCRATCH/build
GEN=""
command -v ninja >/dev/null && GEN="-G Ninja"
if [ ! -f "$B/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$B" $GEN -DCMAKE_PREFIX_PATH="$TP;$D/usr" -DCMAKE_BUILD_TYPE=Release \
    -DTORCH_CUDA_ARCH_LIST=9.0 -DZPLAN_BUILD_RUNTIME=ON 2>&1 | grep -v "^-- Looking\|^-- Performing\|^-- Check"
fi
cmake --build "$B" -j16 --target zplan-run || { echo "BUILD FAILED"; exit 1; }

W=$(mktemp -d)
python3 "$ROOT/tools/gpu/hf_checkpoint_check.py" --zplan-run "$B/tools/zplan-run" --work "$W" --out "$OUT/hf_logs" \
  ${FAMILIES:+--families "$FAMILIES"} ${DTYPES:+--dtypes "$DTYPES"}
rc=$?
echo "exit status $rc"
rm -rf "$W"
exit $rc
