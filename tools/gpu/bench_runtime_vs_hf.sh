#!/bin/bash
# bench_runtime_vs_hf.sh: ONE call on the GPU machine that trains the same configurations with
# zplan's runtime (tools/gpu/measure_runtime.cpp) and with Hugging Face transformers + PyTorch
# (tools/gpu/bench_hf_train.py), each with the plain and the chunked loss path, and prints for every
# row tokens/s of both, their ratio, both measured peaks, and MFU against the bf16 matmul rate
# measured in the same run (a torch 8192^3 bf16 matmul loop). Then the long-context row: Qwen3-1.7B
# at 131072 tokens with the plan `zplan --run` chooses, measured peak against predicted.
#
# Build: tools/gpu/build_runtime.sh (as tools/gpu/check.sh: carried .debs unpacked into $SCRATCH/deps, the
# wheel's libtorch), only the zplan, zplan-run and zplan_measure_runtime targets.
# Device-tool call (the .debs as for check.sh; see the GPU build recipe in docs/performance.md):
#   run(command="bash tools/gpu/bench_runtime_vs_hf.sh", carry=[".debs"], timeout_s=600)
# Env: SCRATCH (default ${TMPDIR:-/tmp}/zplan: build, deps), OUT (default $SCRATCH/out); ROWS: which rows, any of
#   dense4k dense16k moe8k long128k long96k_llama long64k_llama trainer profile4k profile_moe8k (default: the
#   first four; profile*: one Kineto-profiled run of each side and where its GPU time went, by kernel
#   category, tools/gpu/kernel_summary.py; <label>_{zplan,hf}_kernels.tsv in $OUT); split over two
#   calls if 600 s is short:
#   ROWS="dense4k dense16k" then ROWS="moe8k long128k"); STEPS (default 6: the first is warm-up,
#   tokens/s is the mean of the others); DEADLINE_S (default 570: later rows are skipped, loudly).
# Output ($OUT, 4 files): bench.jsonl (one JSON line per side and row, plus the matmul rate),
# bench_log.txt (everything printed), <row>_run.json for each long-context row (the run record),
# build_rest.txt; the trainer row (tools/gpu/trainer_check.sh) adds trainer_log.jsonl, trainer_run.json,
# trainer_check.txt.
# A row that fails prints "!! ROW FAILED" with its exit status and the next row runs.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRATCH=${SCRATCH:-${TMPDIR:-/tmp}/zplan}  # build, unpacked .debs and temporary files
OUT=${OUT:-$SCRATCH/out}
mkdir -p "$OUT"
LOG=$OUT/bench_log.txt
JSONL=$OUT/bench.jsonl
STEPS=${STEPS:-6}
ROWS=${ROWS:-dense4k dense16k moe8k long128k}
DEADLINE_S=${DEADLINE_S:-570}
exec > >(tee -a "$LOG") 2>&1
t_start=$(date +%s)
echo "== bench_runtime_vs_hf.sh $(date -u +%FT%TZ) rows: $ROWS"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)'
python3 -c 'import liger_kernel; print("liger_kernel present")' 2>/dev/null || echo "liger_kernel not installed: HF chunked rows use bench_hf_train.py's own chunked loss"

# ---- build (as check.sh: tools/gpu/build_runtime.sh) ----
rm -f "$OUT/build_rest.txt"
# shellcheck source=tools/gpu/build_runtime.sh
source "$ROOT/tools/gpu/build_runtime.sh"
build_runtime zplan zplan-run zplan_measure_runtime
echo "build seconds $(( $(date +%s) - t_start ))"
M=$B/runtime/zplan_measure_runtime
Z=$B/tools/zplan

# ---- the GPU's bf16 matmul rate, measured here (MFU's denominator) ----
python3 - "$JSONL" <<'EOF' || echo "!! MATMUL RATE FAILED"
import json, sys, time, torch
n, reps = 8192, 50
a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
for _ in range(5):
    a @ b
torch.cuda.synchronize()
t0 = time.perf_counter()
for _ in range(reps):
    a @ b
torch.cuda.synchronize()
rate = 2 * n ** 3 * reps / (time.perf_counter() - t0)
print(f"bf16 matmul {n}^3: {rate / 1e12:.0f} TFLOP/s")
open(sys.argv[1], "a").write(json.dumps({"side": "matmul", "bf16_flops_per_second": rate,
                                         "gpu": torch.cuda.get_device_name(0)}) + "\n")
EOF

late() { (( $(date +%s) - t_start > DEADLINE_S )) && { echo "!! $1: SKIPPED (past DEADLINE_S=$DEADLINE_S s)"; return 0; }; return 1; }
zrow() {  # label, then measure_runtime flags
  local label=$1; shift
  late "zplan $label" && return
  echo "-- zplan $label: $*"
  timeout 150 "$M" --label "$label" --steps "$STEPS" --out "$JSONL" "$@" 2>&1 | grep -v "^\[zplan-run\] step [2-9]"
  local st=$?; (( st != 0 )) && echo "!! ROW FAILED: zplan $label exit status $st"
}
hrow() {  # label, then bench_hf_train.py flags
  local label=$1; shift
  late "hf $label" && return
  echo "-- hf $label: $*"
  timeout 200 python3 "$ROOT/tools/gpu/bench_hf_train.py" --label "$label" --steps "$STEPS" --out "$JSONL" "$@"
  local st=$?; (( st != 0 )) && echo "!! ROW FAILED: hf $label exit status $st"
}
both() {  # label, zplan model flags | hf model flags, chunks
  local label=$1 zflags=$2 hflags=$3 chunks=$4
  # shellcheck disable=SC2086
  { zrow "$label" $zflags; hrow "$label" $hflags; zrow "${label}_chunked$chunks" $zflags --loss-chunks "$chunks";
    hrow "${label}_chunked$chunks" $hflags --loss "chunked:$chunks"; }
}
prow() {  # label, zplan model flags | hf model flags: one kernel-profiled run of each side, then where
  # the step's GPU time went, side by side (tools/gpu/kernel_summary.py); profiled tokens/s are slower
  local label=$1 zflags=$2 hflags=$3
  # shellcheck disable=SC2086
  { zrow "${label}_profiled" $zflags --kernel-profile "$OUT/${label}_zplan_kernels.tsv"
    hrow "${label}_profiled" $hflags --kernel-profile "$OUT/${label}_hf_kernels.tsv"; }
  [ -s "$OUT/${label}_zplan_kernels.tsv" ] && [ -s "$OUT/${label}_hf_kernels.tsv" ] && \
    python3 "$ROOT/tools/gpu/kernel_summary.py" "zplan=$OUT/${label}_zplan_kernels.tsv" "hf=$OUT/${label}_hf_kernels.tsv"
}
# The long-context rows plan for the card they run on (an H200's plan can OOM an H100).
case "$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)" in
  *H100*) LENT_GPU=1xH100 ;;
  *) LENT_GPU=1xH200 ;;
esac
lrow() {  # label, then --model M --seq N: `zplan --run` with the plan zplan chooses on this GPU
  local label=$1; shift
  late "$label" && return
  echo "-- $label: zplan $* --gpus $LENT_GPU --run (the plan zplan chooses)"
  timeout 400 "$Z" "$@" --gpus "$LENT_GPU" --explain --run --steps 3 --run-out "$OUT/${label}_run.json" 2>&1 \
    | grep -v "^\[zplan-run\] step [2-9]"
  local st=$?; (( st != 0 )) && echo "!! ROW FAILED: $label exit status $st (3: no plan fits; 4: the run failed)"
}
for row in $ROWS; do
  case $row in
    dense4k)  both qwen3-1.7b_s4096 "--model qwen3-1.7b --seq 4096 --ckpt none" "--model qwen3-1.7b --seq 4096 --ckpt none" 4
              zrow qwen3-1.7b_s4096_composite_norm --model qwen3-1.7b --seq 4096 --ckpt none --norm-kernel composite
              zrow qwen3-1.7b_s4096_upcast_adamw --model qwen3-1.7b --seq 4096 --ckpt none --adamw-kernel upcast
              zrow qwen3-1.7b_s4096_composite_elementwise --model qwen3-1.7b --seq 4096 --ckpt none --elementwise-kernel composite
              zrow qwen3-1.7b_s4096_composite_ce --model qwen3-1.7b --seq 4096 --ckpt none --cross-entropy-kernel composite ;;
    dense16k) both qwen3-1.7b_s16384_ckptfull "--model qwen3-1.7b --seq 16384 --ckpt all" "--model qwen3-1.7b --seq 16384 --ckpt full" 16 ;;
    moe8k)    both qwen3-30b-a3b-4l_s8192 "--model qwen3-30b-a3b --layers 4 --seq 8192 --ckpt none" "--model qwen3-30b-a3b --layers 4 --seq 8192 --ckpt none" 8 ;;
    profile4k)    prow qwen3-1.7b_s4096 "--model qwen3-1.7b --seq 4096 --ckpt none" "--model qwen3-1.7b --seq 4096 --ckpt none" ;;
    profile_moe8k) prow qwen3-30b-a3b-4l_s8192 "--model qwen3-30b-a3b --layers 4 --seq 8192 --ckpt none" "--model qwen3-30b-a3b --layers 4 --seq 8192 --ckpt none" ;;
    long128k) lrow long128k --model qwen3-1.7b --seq 131072 ;;
    long96k_llama) lrow long96k_llama --model llama-3.2-1b --seq 98304 ;;
    long64k_llama) lrow long64k_llama --model llama-3.2-1b --seq 65536 ;;
    trainer)
      if ! late trainer; then B=$B OUT=$OUT bash "$ROOT/tools/gpu/trainer_check.sh" || echo "!! ROW FAILED: trainer exit status $?"; fi ;;
    *) echo "!! unknown row '$row' (expected dense4k dense16k moe8k profile4k profile_moe8k long128k long96k_llama long64k_llama trainer)" ;;
  esac
done

# ---- summary: tokens/s, ratio, peaks, MFU ----
longs=()
for row in $ROWS; do case $row in long*) longs+=("$OUT/${row}_run.json") ;; esac; done
python3 "$ROOT/tools/gpu/bench_summary.py" "$JSONL" "${longs[@]}" || echo "!! SUMMARY FAILED"
echo "total seconds $(( $(date +%s) - t_start ))"
