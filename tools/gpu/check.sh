#!/bin/bash
# check.sh: ONE script for the GPU machine (PyTorch 2.11 wheel's libtorch, CUDA). From the repo root:
#   unpacks the carried Debian packages (.debs: yaml-cpp, CLI11, doctest, nlohmann-json, Eigen) into
#   $SCRATCH/deps, configures zplan against the wheel's libtorch (TORCH_CUDA_ARCH_LIST=9.0), builds the
#   runtime targets first and then everything else, runs ctest, then runs zplan_measure_runtime over
#   the measurement matrix, appending one JSON line per run to $OUT/runtime_measurements.jsonl.
# Device-tool call (fetch the .debs here first, apt-get download the packages listed below into .debs/):
#   run(command="bash tools/gpu/check.sh", carry=[".debs"], timeout_s=480)
# Env: SCRATCH (default ${TMPDIR:-/tmp}/zplan: build, deps), OUT (default $SCRATCH/out), MATRIX=quick|full|oom|cli|holdout|families|families2|moe_grouped|moe_grouped2|fused_norm|adamw|adamw2|elementwise|cross_entropy (default full; oom: only the
# OOM-reporting and grad-accumulation runs; cli: `zplan --run` end to end, fitting and forced to OOM;
# holdout: `zplan --run` on configurations not measured before; families: truncated Phi-3,
# Qwen1.5-MoE, Mixtral, Mistral beyond its window, Gemma 3 1B beyond its window and amp-bf16), STEPS (default 3),
# families2: held-out MoE optimizer-step peaks, amp-fp16, Gemma 3 under amp-bf16; moe_grouped: MoE rows with
# the experts on at::_grouped_mm; moe_grouped2: held out for the sparse layers' node order; fused_norm: held out for the fused RMSNorm; adamw: held out for the fused-master AdamW kernel (optimizer-step peaks); adamw2: held out for the tied embedding's out-of-place gradient sum and fp16's sum-based overflow check; elementwise: held out for zplan's SwiGLU and RoPE kernels; cross_entropy: held out for zplan's cross-entropy kernels; CTEST_ARGS (extra ctest arguments), DEADLINE_S (no new matrix row after this many seconds; default 430).
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRATCH=${SCRATCH:-${TMPDIR:-/tmp}/zplan}  # build, unpacked .debs and temporary files
OUT=${OUT:-$SCRATCH/out}
mkdir -p "$OUT"
LOG=$OUT/check_log.txt
JSONL=$OUT/runtime_measurements.jsonl
STEPS=${STEPS:-3}
exec > >(tee -a "$LOG") 2>&1
t_start=$(date +%s)
echo "== check.sh $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

# ---- dependencies from the carried .deb files (never unpacked into /) ----
D=$SCRATCH/deps
mkdir -p $D
for f in "$ROOT"/.debs/*.deb; do dpkg -x "$f" $D; done
export LD_LIBRARY_PATH=$D/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
TP=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
python3 -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda)'

# ---- configure + build (runtime targets first, so a broken unrelated target cannot hide them) ----
B=$SCRATCH/build
GEN=""
command -v ninja >/dev/null && GEN="-G Ninja"
# nvcc for zplan's own kernels (runtime/kernels), where the toolkit is but not on PATH.
[ -z "${CUDACXX:-}" ] && ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ] && export CUDACXX=/usr/local/cuda/bin/nvcc
cmake -S "$ROOT" -B $B $GEN -DCMAKE_PREFIX_PATH="$TP;$D/usr" -DCMAKE_BUILD_TYPE=Release -DZPLAN_BUILD_TESTS=ON \
  -DTORCH_CUDA_ARCH_LIST=9.0 -DCMAKE_CUDA_ARCHITECTURES=90 -DZPLAN_BUILD_RUNTIME=ON 2>&1 | grep -v "^-- Looking\|^-- Performing\|^-- Check" 
cmake --build $B -j16 --target zplan_runtime runtime_tests zplan_measure_runtime || { echo "RUNTIME BUILD FAILED"; exit 1; }
echo "runtime build seconds $(( $(date +%s) - t_start ))"
cmake --build $B -j16 -- -k 0 >"$OUT/build_rest.txt" 2>&1 || echo "note: some non-runtime targets failed to build (see build_rest.txt)"
echo "full build seconds $(( $(date +%s) - t_start ))"

# ---- tests ----
# CTEST_ARGS narrows the tests (for example '-R hf_checkpoint' when device time is short).
(cd $B && timeout 60 ctest -j16 --output-on-failure -LE cpu-only ${CTEST_ARGS:-} 2>&1 | tail -40) || true

# ---- MATRIX=holdout: `zplan --run` on configurations the runtime was not measured on before; the
# run records are gathered into one JSON-lines file (only 8 files come back from $OUT) ----
if [ "${MATRIX:-full}" = holdout ]; then
  Z=$B/tools/zplan
  hold() {  # name, then zplan flags
    local name=$1; shift
    echo "-- $name: zplan $*"
    "$Z" "$@" --run --steps 3 --run-out "$SCRATCH/$name.json" >"$OUT/$name.txt" 2>&1; echo "exit status $?"
    tail -14 "$OUT/$name.txt" | grep -E "peak allocated|peak reserved|OOM|not running" || true
    [ -f "$SCRATCH/$name.json" ] && python3 -c "import json,sys; r=json.load(open(sys.argv[1])); r['label']=sys.argv[2]; print(json.dumps(r))" "$SCRATCH/$name.json" "$name" >> "$OUT/holdout_runs.jsonl"
    rm -f "$OUT/$name.txt"
  }
  hold llama-3.2-1b_s4096_mb1_ckpt8   --model llama-3.2-1b --gpus 1xH100 --seq 4096 --zero 0 --ckpt 8 --micro-batch 1 --precision bf16
  hold llama-3.2-3b_s2048_mb2_ckpt0   --model llama-3.2-3b --gpus 1xH100 --seq 2048 --zero 0 --ckpt none --micro-batch 2 --precision bf16
  hold gpt2-medium_s1024_mb8_ckpt12_fp16 --model gpt2-medium --gpus 1xH100 --seq 1024 --zero 0 --ckpt 12 --micro-batch 8 --precision fp16
  hold qwen3-1.7b_s8192_mb1_ckpt28_cpu --model qwen3-1.7b --gpus 1xH100 --seq 8192 --zero 0 --ckpt full --cpu-ckpt --micro-batch 1 --precision bf16
  hold qwen3-4b_s2048_mb1_ckptfull    --model qwen3-4b --gpus 1xH100 --seq 2048 --zero 0 --ckpt full --micro-batch 1 --precision bf16
  hold qwen3-0.6b_s8192_mb1_ckpt20_fp32 --model qwen3-0.6b --gpus 1xH100 --seq 8192 --zero 0 --ckpt 20 --micro-batch 1 --precision fp32
  hold qwen3-1.7b_s4096_mb2_ckpt10_fp16 --model qwen3-1.7b --gpus 1xH100 --seq 4096 --zero 0 --ckpt 10 --micro-batch 2 --precision fp16
  hold gpt2-large_s1024_mb4_ckpt0_eager --model gpt2-large --gpus 1xH100 --seq 1024 --zero 0 --ckpt none --micro-batch 4 --precision bf16 --attn eager
  echo "total seconds $(( $(date +%s) - t_start ))"
  exit 0
fi

# ---- MATRIX=cli: the user's path, `zplan --run` end to end (plan -> zplan-run -> run record) ----
if [ "${MATRIX:-full}" = cli ]; then
  Z=$B/tools/zplan
  echo "-- zplan --run (fits): qwen3-0.6b, 2048 tokens, 14 of 28 layers checkpointed"
  "$Z" --model qwen3-0.6b --gpus 1xH100 --seq 2048 --zero 0 --ckpt 14 --micro-batch 2 --precision bf16 \
    --run --steps 3 --run-out "$OUT/run_cli_fit.json"; echo "exit status $? (expected 0)"
  echo "-- zplan --run with 74 GiB of the GPU taken by another process: must report OOM, exit 4"
  python3 -c "import torch,time; x=torch.empty(int(74*2**30),dtype=torch.uint8,device='cuda'); open('$SCRATCH/held','w').write('1'); time.sleep(60)" &
  HOLDER=$!
  for _ in $(seq 60); do [ -f "$SCRATCH/held" ] && break; sleep 0.5; done
  "$Z" --model qwen3-0.6b --gpus 1xH100 --seq 2048 --zero 0 --ckpt 14 --micro-batch 2 --precision bf16 \
    --run --steps 2 --run-out "$OUT/run_cli_oom.json"; echo "exit status $? (expected 4)"
  kill $HOLDER 2>/dev/null; wait $HOLDER 2>/dev/null
  echo "total seconds $(( $(date +%s) - t_start ))"
  exit 0
fi

# ---- measurement matrix ----
M=$B/runtime/zplan_measure_runtime
run() {  # label, then measure_runtime flags
  local label=$1; shift
  if (( $(date +%s) - t_start > ${DEADLINE_S:-430} )); then echo "-- $label: SKIPPED (time budget)"; return; fi
  echo "-- $label: $*"
  timeout 90 "$M" --label "$label" --steps "$STEPS" --out "$JSONL" "$@" 2>&1 | grep -v "^\[zplan-run\] step [2-9]" \
    || echo "!! $label exited with status $?"
}
# The default rows run unless MATRIX is oom or families.
default_rows=true
case "${MATRIX:-full}" in oom|families|families2|moe_grouped|moe_grouped2|fused_norm|adamw|adamw2|elementwise|cross_entropy) default_rows=false ;; esac
# ---- MATRIX=families: the families issue 21 added to the runtime, truncated to one GPU, for the
# predicted-vs-measured peak (run on an H100: docs/measurements/2026-12-05/call3): Phi-3 (fused qkv_proj/gate_up_proj; v a
# view of qkv keeps it whole), Qwen1.5-MoE (routed experts + sigmoid-gated shared expert),
# Mistral's and Gemma 3's sliding windows, Mixtral and the amp-bf16 recipe ----
if [ "${MATRIX:-full}" = families ]; then
  H=$ROOT/tests/data/hf
  # newest first: Gemma 3, Mixtral and amp were added last, so they go first when time is short
  # Gemma 3 1B beyond its 512-token window: sandwich norms, fp32 (1 + w) RMSNorms, local/global
  # RoPE; layers 0-4 slide (masked SDPA), layer 5 is global
  run "gemma-3-1b-8l_s4096_mb1_ckpt0"       --model gemma-3-1b --layers 8 --seq 4096 --micro-batch 1 --ckpt none
  run "gemma-3-1b-8l_s4096_mb1_ckpt8"       --model gemma-3-1b --layers 8 --seq 4096 --micro-batch 1 --ckpt all
  # Mixtral (8 experts of 14336, top-2 renormalised; hf_holdout2 measured HF on the same truncation)
  run "mixtral-8x7b-2l_s4096_mb1_ckpt0"     --model mixtral-8x7b --layers 2 --seq 4096 --micro-batch 1 --ckpt none
  # amp-bf16: fp32 params, grads and AdamW under bf16 autocast (cached weight casts, fp32 residual stream)
  run "qwen3-0.6b_s2048_mb1_ckpt0_amp-bf16" --model qwen3-0.6b --seq 2048 --micro-batch 1 --ckpt none --precision amp-bf16
  run "phi-3-mini-8l_s4096_mb1_ckpt0"       --model $H/phi-3-mini-4k.json --layers 8 --seq 4096 --micro-batch 1 --ckpt none
  run "phi-3-mini-8l_s4096_mb1_ckpt8"       --model $H/phi-3-mini-4k.json --layers 8 --seq 4096 --micro-batch 1 --ckpt all
  run "qwen1.5-moe-a2.7b-4l_s4096_mb1_ckpt0" --model $H/qwen1.5-moe-a2.7b.json --layers 4 --seq 4096 --micro-batch 1 --ckpt none
  run "qwen1.5-moe-a2.7b-4l_s4096_mb1_ckpt4" --model $H/qwen1.5-moe-a2.7b.json --layers 4 --seq 4096 --micro-batch 1 --ckpt all
  # Mistral v0.1 beyond its 4096-token window: the masked SDPA path (repeated k/v, [B,1,T,T] bias)
  run "mistral-7b-4l_s8192_mb1_ckpt0"       --model mistral-7b --layers 4 --seq 8192 --micro-batch 1 --ckpt none
fi
# ---- MATRIX=families2: held out for the fused-tensor upcast (the optimizer step's peak on MoE
# models, found on Mixtral in MATRIX=families) and for recipes the runtime had never run on a GPU:
# amp-fp16 (loss scaler, overflow check) and Gemma 3 under amp-bf16 ----
if [ "${MATRIX:-full}" = families2 ]; then
  run "mixtral-8x7b-2l_s2048_mb1_ckpt2"        --model mixtral-8x7b --layers 2 --seq 2048 --micro-batch 1 --ckpt all
  run "qwen3-30b-a3b-4l_s2048_mb1_ckpt4"       --model qwen3-30b-a3b --layers 4 --seq 2048 --micro-batch 1 --ckpt all
  run "qwen3-0.6b_s2048_mb1_ckpt0_amp-fp16"    --model qwen3-0.6b --seq 2048 --micro-batch 1 --ckpt none --precision amp-fp16
  run "gemma-3-1b-8l_s4096_mb1_ckpt0_amp-bf16" --model gemma-3-1b --layers 8 --seq 4096 --micro-batch 1 --ckpt none --precision amp-bf16
  run "gemma-3-1b-8l_s2048_mb2_ckpt0"          --model gemma-3-1b --layers 8 --seq 2048 --micro-batch 2 --ckpt none
fi
# ---- MATRIX=moe_grouped: the runtime's MoE experts through at::_grouped_mm (before: one mm per
# expert after a host sync). Held out: the first three re-run configurations measured with the loop
# (same saved tensors expected), the others were never measured ----
if [ "${MATRIX:-full}" = moe_grouped ]; then
  H=$ROOT/tests/data/hf
  run "qwen3-30b-a3b-2l_s4096_mb1_ckpt0"      --model qwen3-30b-a3b --layers 2 --seq 4096 --micro-batch 1 --ckpt none
  run "mixtral-8x7b-2l_s4096_mb1_ckpt0"       --model mixtral-8x7b --layers 2 --seq 4096 --micro-batch 1 --ckpt none
  run "qwen1.5-moe-a2.7b-4l_s4096_mb1_ckpt4"  --model $H/qwen1.5-moe-a2.7b.json --layers 4 --seq 4096 --micro-batch 1 --ckpt all
  run "qwen3-30b-a3b-4l_s8192_mb1_ckpt2"      --model qwen3-30b-a3b --layers 4 --seq 8192 --micro-batch 1 --ckpt half
  run "qwen3-30b-a3b-2l_s4096_mb2_ckpt0"      --model qwen3-30b-a3b --layers 2 --seq 4096 --micro-batch 2 --ckpt none
  run "mixtral-8x7b-2l_s8192_mb1_ckpt2"       --model mixtral-8x7b --layers 2 --seq 8192 --micro-batch 1 --ckpt all
fi
# ---- MATRIX=moe_grouped2: held out for the sparse layers' node order (runtime_layer_order.h):
# MoE at long context with CPU checkpointing and the chunked loss, half checkpointing, and the
# amp-bf16 recipe whose fp32 experts take _grouped_mm's fallback ----
if [ "${MATRIX:-full}" = moe_grouped2 ]; then
  H=$ROOT/tests/data/hf
  run "qwen3-30b-a3b-2l_s32768_mb1_ckpt2_cpu_lc16" --model qwen3-30b-a3b --layers 2 --seq 32768 --micro-batch 1 --ckpt all --cpu-ckpt --loss-chunks 16
  run "qwen3-30b-a3b-2l_s4096_mb1_ckpt0_amp-bf16"  --model qwen3-30b-a3b --layers 2 --seq 4096 --micro-batch 1 --ckpt none --precision amp-bf16
  run "mixtral-8x7b-2l_s16384_mb1_ckpt2_lc8"        --model mixtral-8x7b --layers 2 --seq 16384 --micro-batch 1 --ckpt all --loss-chunks 8
  run "qwen1.5-moe-a2.7b-4l_s8192_mb1_ckpt2"        --model $H/qwen1.5-moe-a2.7b.json --layers 4 --seq 8192 --micro-batch 1 --ckpt half
  run "qwen3-30b-a3b-4l_s16384_mb1_ckpt4_lc4"       --model qwen3-30b-a3b --layers 4 --seq 16384 --micro-batch 1 --ckpt all --loss-chunks 4
fi
# ---- MATRIX=fused_norm: held out for the runtime's fused RMSNorm (at::_fused_rms_norm; planner
# ExecContext::fused_rms_norm): dense Qwen3 and Llama over lengths, recompute, CPU checkpoints,
# fp32 and fp16, a MoE model's q/k norms, and amp-bf16 (which keeps the composite) ----
if [ "${MATRIX:-full}" = fused_norm ]; then
  run "fused_qwen3-1.7b_s4096_mb1_ckpt0"          --model qwen3-1.7b --seq 4096 --micro-batch 1 --ckpt none
  run "fused_qwen3-0.6b_s2048_mb4_ckpt14"         --model qwen3-0.6b --seq 2048 --micro-batch 4 --ckpt half
  run "fused_qwen3-1.7b_s16384_mb1_ckpt28_lc16"   --model qwen3-1.7b --seq 16384 --micro-batch 1 --ckpt all --loss-chunks 16
  run "fused_llama-3.2-1b_s8192_mb1_ckpt8_cpu"    --model llama-3.2-1b --seq 8192 --micro-batch 1 --ckpt 8 --cpu-ckpt
  run "fused_qwen3-0.6b_s2048_mb1_ckpt0_fp32"     --model qwen3-0.6b --seq 2048 --micro-batch 1 --ckpt none --precision fp32
  run "fused_qwen3-0.6b_s4096_mb2_ckpt0_fp16"     --model qwen3-0.6b --seq 4096 --micro-batch 2 --ckpt none --precision fp16
  run "fused_qwen3-30b-a3b-2l_s8192_mb1_ckpt0"    --model qwen3-30b-a3b --layers 2 --seq 8192 --micro-batch 1 --ckpt none
  run "fused_qwen3-4b_s4096_mb1_ckpt18"           --model qwen3-4b --seq 4096 --micro-batch 1 --ckpt 18
  run "composite_qwen3-0.6b_s2048_mb1_ckpt0_amp-bf16" --model qwen3-0.6b --seq 2048 --micro-batch 1 --ckpt none --precision amp-bf16
fi
# ---- MATRIX=adamw: held out for the fused-master AdamW kernel (runtime/kernels/mixed_adamw.cu; planner
# AdamWImpl): short sequences, where the upcast path's fp32 gradient copy made the optimizer step the
# peak, one configuration on both paths, fp16's overflow check, MoE's large expert tensors ----
if [ "${MATRIX:-full}" = adamw ]; then
  run "fm_qwen3-0.6b_s512_mb1_ckpt0"          --model qwen3-0.6b --seq 512 --micro-batch 1 --ckpt none
  run "up_qwen3-0.6b_s512_mb1_ckpt0"          --model qwen3-0.6b --seq 512 --micro-batch 1 --ckpt none --adamw-kernel upcast
  run "fm_qwen3-1.7b_s1024_mb1_ckpt0"         --model qwen3-1.7b --seq 1024 --micro-batch 1 --ckpt none
  run "fm_llama-3.2-1b_s1024_mb1_ckpt0_fp16"  --model llama-3.2-1b --seq 1024 --micro-batch 1 --ckpt none --precision fp16
  run "fm_qwen3-4b_s1024_mb1_ckpt36"          --model qwen3-4b --seq 1024 --micro-batch 1 --ckpt all
  run "fm_qwen3-30b-a3b-2l_s1024_mb1_ckpt0"   --model qwen3-30b-a3b --layers 2 --seq 1024 --micro-batch 1 --ckpt none
  run "fm_gemma-3-1b-8l_s2048_mb1_ckpt0"      --model gemma-3-1b --layers 8 --seq 2048 --micro-batch 1 --ckpt none
  run "fm_qwen3-1.7b_s4096_mb1_ckpt0"         --model qwen3-1.7b --seq 4096 --micro-batch 1 --ckpt none
fi
# ---- MATRIX=adamw2: held out for what the adamw set showed: a tied embedding's two gradients summed
# out of place at backward's end, and fp16's overflow check as one fp32 sum per gradient ----
if [ "${MATRIX:-full}" = adamw2 ]; then
  run "fm_llama-3.2-1b_s1024_mb1_ckpt0_fp16"  --model llama-3.2-1b --seq 1024 --micro-batch 1 --ckpt none --precision fp16
  run "fm_qwen3-0.6b_s512_mb1_ckpt0_fp16"     --model qwen3-0.6b --seq 512 --micro-batch 1 --ckpt none --precision fp16
  run "up_qwen3-1.7b_s1024_mb1_ckpt0_fp16"    --model qwen3-1.7b --seq 1024 --micro-batch 1 --ckpt none --precision fp16 --adamw-kernel upcast
  run "qwen3-0.6b_s512_mb1_ckpt0_amp-fp16"    --model qwen3-0.6b --seq 512 --micro-batch 1 --ckpt none --precision amp-fp16
  run "fm_llama-3.2-3b_s1024_mb2_ckpt0"       --model llama-3.2-3b --seq 1024 --micro-batch 2 --ckpt none
  run "fm_qwen3-8b-8l_s1024_mb1_ckpt0"        --model qwen3-8b --layers 8 --seq 1024 --micro-batch 1 --ckpt none
  run "fm_gpt2-large_s1024_mb2_ckpt0"         --model gpt2-large --seq 1024 --micro-batch 2 --ckpt none
  run "fm_qwen3-1.7b_s1024_mb1_ga2_ckpt0"     --model qwen3-1.7b --seq 1024 --micro-batch 1 --grad-accum 2 --ckpt none
  run "fm_qwen3-4b_s512_mb1_ckpt36_fp16"      --model qwen3-4b --seq 512 --micro-batch 1 --ckpt all --precision fp16
fi
# ---- MATRIX=elementwise: held out for zplan's SwiGLU and RoPE kernels (runtime/kernels/swiglu.cu,
# rope.cu; planner ElementwiseImpl): no recompute (every layer's saved MLP tensors at the end of
# forward), partial and full recompute, Phi-3's gate_up halves, AMP, fp16 and fp32, MoE (RoPE only),
# and one configuration on the composite path ----
if [ "${MATRIX:-full}" = elementwise ]; then
  H=$ROOT/tests/data/hf
  run "ew_qwen3-1.7b_s4096_mb1_ckpt0"          --model qwen3-1.7b --seq 4096 --micro-batch 1 --ckpt none
  run "cp_qwen3-1.7b_s4096_mb1_ckpt0"          --model qwen3-1.7b --seq 4096 --micro-batch 1 --ckpt none --elementwise-kernel composite
  run "ew_llama-3.2-1b_s8192_mb1_ckpt0"        --model llama-3.2-1b --seq 8192 --micro-batch 1 --ckpt none
  run "ew_qwen3-4b_s4096_mb1_ckpt18"           --model qwen3-4b --seq 4096 --micro-batch 1 --ckpt 18
  run "ew_qwen3-0.6b_s2048_mb2_ckpt28"         --model qwen3-0.6b --seq 2048 --micro-batch 2 --ckpt all
  run "ew_phi-3-mini-8l_s4096_mb1_ckpt0"       --model $H/phi-3-mini-4k.json --layers 8 --seq 4096 --micro-batch 1 --ckpt none
  run "ew_qwen3-0.6b_s2048_mb1_ckpt0_amp-bf16" --model qwen3-0.6b --seq 2048 --micro-batch 1 --ckpt none --precision amp-bf16
  run "ew_llama-3.2-1b_s2048_mb1_ckpt0_fp32"   --model llama-3.2-1b --seq 2048 --micro-batch 1 --ckpt none --precision fp32
  run "ew_qwen3-0.6b_s4096_mb1_ckpt0_fp16"     --model qwen3-0.6b --seq 4096 --micro-batch 1 --ckpt none --precision fp16
  run "ew_qwen3-30b-a3b-2l_s4096_mb1_ckpt0"    --model qwen3-30b-a3b --layers 2 --seq 4096 --micro-batch 1 --ckpt none
fi
# ---- MATRIX=cross_entropy: held out for zplan's cross-entropy kernels (runtime/kernels/cross_entropy.cu;
# planner CrossEntropyImpl, loss_path.h): plain loss path runs where the loss is the peak (long
# sequences under recompute), large and odd vocabularies (Llama, Gemma, GPT-2's scalar path), the
# fp32/fp16/AMP recipes, MoE, and one configuration on the composite path ----
if [ "${MATRIX:-full}" = cross_entropy ]; then
  run "ce_qwen3-0.6b_s8192_mb1_ckpt28"          --model qwen3-0.6b --seq 8192 --micro-batch 1 --ckpt all
  run "cp_qwen3-0.6b_s8192_mb1_ckpt28"          --model qwen3-0.6b --seq 8192 --micro-batch 1 --ckpt all --cross-entropy-kernel composite
  run "ce_qwen3-1.7b_s4096_mb1_ckpt0"           --model qwen3-1.7b --seq 4096 --micro-batch 1 --ckpt none
  run "ce_llama-3.2-1b_s16384_mb1_ckpt16"       --model llama-3.2-1b --seq 16384 --micro-batch 1 --ckpt all
  run "ce_gpt2-large_s1024_mb4_ckpt0"           --model gpt2-large --seq 1024 --micro-batch 4 --ckpt none
  run "ce_gemma-3-1b-8l_s4096_mb1_ckpt8"        --model gemma-3-1b --layers 8 --seq 4096 --micro-batch 1 --ckpt all
  run "ce_qwen3-0.6b_s4096_mb2_ckpt0_fp32"      --model qwen3-0.6b --seq 4096 --micro-batch 2 --ckpt none --precision fp32
  run "ce_qwen3-0.6b_s4096_mb1_ckpt0_fp16"      --model qwen3-0.6b --seq 4096 --micro-batch 1 --ckpt none --precision fp16
  run "ce_qwen3-0.6b_s2048_mb1_ckpt0_amp-bf16"  --model qwen3-0.6b --seq 2048 --micro-batch 1 --ckpt none --precision amp-bf16
  run "ce_qwen3-30b-a3b-2l_s8192_mb1_ckpt0"     --model qwen3-30b-a3b --layers 2 --seq 8192 --micro-batch 1 --ckpt none
fi
if [ "${MATRIX:-full}" = oom ]; then  # configurations that must end in a reported OOM, not a crash
  run "oom_qwen3-30b-a3b-8l_s4096"   --model qwen3-30b-a3b --layers 8 --seq 4096 --ckpt none
  run "oom_qwen3-30b-a3b-2l_s32768"  --model qwen3-30b-a3b --layers 2 --seq 32768 --ckpt none
  run "oom_qwen3-30b-a3b-2l_s26624"  --model qwen3-30b-a3b --layers 2 --seq 26624 --ckpt none
  run "qwen3-0.6b_s2048_mb2_ga2_ckpt0" --model qwen3-0.6b --seq 2048 --micro-batch 2 --grad-accum 2 --ckpt none
fi
$default_rows && for mb in 1 4; do
  run "qwen3-0.6b_s2048_mb${mb}_ckpt0"      --model qwen3-0.6b --seq 2048 --micro-batch $mb --ckpt none
  run "qwen3-0.6b_s2048_mb${mb}_ckpt14"     --model qwen3-0.6b --seq 2048 --micro-batch $mb --ckpt half
  run "qwen3-0.6b_s2048_mb${mb}_ckpt28"     --model qwen3-0.6b --seq 2048 --micro-batch $mb --ckpt all
  run "qwen3-0.6b_s2048_mb${mb}_ckpt28_cpu" --model qwen3-0.6b --seq 2048 --micro-batch $mb --ckpt all --cpu-ckpt
done
$default_rows && for mb in 1 4; do
  run "gpt2-xl_s1024_mb${mb}_ckpt0"      --model gpt2-xl --seq 1024 --micro-batch $mb --ckpt none
  run "gpt2-xl_s1024_mb${mb}_ckpt24"     --model gpt2-xl --seq 1024 --micro-batch $mb --ckpt half
  run "gpt2-xl_s1024_mb${mb}_ckpt48"     --model gpt2-xl --seq 1024 --micro-batch $mb --ckpt all
  run "gpt2-xl_s1024_mb${mb}_ckpt48_cpu" --model gpt2-xl --seq 1024 --micro-batch $mb --ckpt all --cpu-ckpt
done
$default_rows && run "qwen3-30b-a3b-2l_s4096_mb1_ckpt0"  --model qwen3-30b-a3b --layers 2 --seq 4096 --micro-batch 1 --ckpt none
$default_rows && run "qwen3-30b-a3b-2l_s16384_mb1_ckpt0" --model qwen3-30b-a3b --layers 2 --seq 16384 --micro-batch 1 --ckpt none
$default_rows && run "qwen3-30b-a3b-2l_s16384_mb1_ckpt2" --model qwen3-30b-a3b --layers 2 --seq 16384 --micro-batch 1 --ckpt all
if [ "${MATRIX:-full}" = full ]; then
  run "qwen3-0.6b_s2048_mb1_ckpt0_fp16" --model qwen3-0.6b --seq 2048 --micro-batch 1 --ckpt none --precision fp16
  run "qwen3-0.6b_s2048_mb1_ckpt0_fp32" --model qwen3-0.6b --seq 2048 --micro-batch 1 --ckpt none --precision fp32
  run "qwen3-0.6b_s2048_mb1_ckpt0_eager" --model qwen3-0.6b --seq 2048 --micro-batch 1 --ckpt none --attn eager
fi

# ---- summary table ----
python3 - "$JSONL" <<'EOF'
import json, sys
G = 1024 ** 3
print(f"{'run':42s} {'after_init':>10s} {'fwd_end':>9s} {'peak':>9s} {'reserved':>9s} {'peak@':>14s} oom")
for line in open(sys.argv[1]):
    r = json.loads(line)
    m = r["measurement"]["memory"]["gpu"]
    ph = m["phases"] if isinstance(m["phases"], dict) else {p["phase"]: p for p in m["phases"]}
    g = lambda k: ph.get(k, {}).get("allocated_bytes", 0) / G
    print(f"{r['label']:42s} {g('after_init'):10.2f} {g('forward_end'):9.2f} {m['peak_bytes']/G:9.2f} "
          f"{m['reserved_bytes']/G:9.2f} {m['peak_phase']:>14s} {r['oom']} {r['failed_phase']}")
EOF
echo "total seconds $(( $(date +%s) - t_start ))"
sleep 1
