#!/bin/bash
# ranking_check.sh: does the search's ranking pick the winner (issue 22, item 3)? For each scenario,
# `zplan ... --gpus $GPUS --profile zplan --format json` gives the chosen plan and the next best
# ("alternatives"); each of the top TOP plans is then trained with zplan's runtime, every strategy
# field pinned (`zplan --run --steps STEPS`, one run record each), and tools/gpu/ranking_summary.py
# prints per scenario each plan's predicted and measured tokens/s and rank, and whether the chosen
# plan (and the fastest predicted one: the chosen one may leave more memory free within the
# step-time band, docs/cost-model.md "Ranking") is within 5% of the fastest measured.
#
# Build: tools/gpu/build_runtime.sh (the zplan and zplan-run targets; a warm machine reuses $SCRATCH/build).
# Device-tool call (the .debs as for tools/gpu/check.sh):
#   run(command="bash tools/gpu/ranking_check.sh", carry=[".debs"], timeout_s=600)
# If 600 s is short (a cold build takes 3-4 min), split over two calls:
#   SCENARIOS="q06b_8k q06b_16k q4b_4k" then SCENARIOS="llama1b_32k moe4l_4k".
# Env: SCENARIOS (default: the five below whose top plans differ most, in recompute, micro-batch and
#   loss path rather than by one recomputed layer; q06b_4k, q17b_8k, gemma1b_32k and llama3b_16k can
#   be named too); TOP
#   (default 5 plans per scenario); GPUS (default: 1xH100 or 1xH200, the lent card); STEPS (default 4: the first warms up, the run record's step time
#   is the mean of the others); DEADLINE_S (default 500: runs not started by then are skipped,
#   loudly); SCRATCH (default ${TMPDIR:-/tmp}/zplan), OUT (default $SCRATCH/out); DRY_RUN=1: no
#   build and no GPU, print the commands, with ZPLAN (default build/release/tools/zplan) asked for
#   the plans; ZPLAN set without DRY_RUN: that zplan (zplan-run beside it) runs the plans, no build.
# Output ($OUT): ranking.jsonl (one line per scenario's plan JSON and per run, with its run record),
# ranking_log.txt (everything printed), build_rest.txt. Summary again, anywhere:
#   python3 tools/gpu/ranking_summary.py summary ranking.jsonl [the other call's ranking.jsonl]
# Status: run on H100s and an H200 (docs/measurements/2026-12-05/ranking_h100_*, 2026-12-06/call13-17, 2026-12-07/call19: gemma1b_32k, llama3b_16k). Also tested on a CPU machine: DRY_RUN=1, and the whole flow with
#   ZPLAN=build/release/tools/zplan SCENARIOS=tiny STEPS=2 (GPT-2 trained on the CPU, about 2 minutes).
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRATCH=${SCRATCH:-${TMPDIR:-/tmp}/zplan}
OUT=${OUT:-$SCRATCH/out}
SCENARIOS=${SCENARIOS:-q06b_8k q06b_16k q4b_4k llama1b_32k moe4l_4k}
TOP=${TOP:-5}
STEPS=${STEPS:-4}
DEADLINE_S=${DEADLINE_S:-500}
DRY_RUN=${DRY_RUN:-0}
# GPUS: the cluster the plans are made for; default: the lent GPU as nvidia-smi names it (1xH100 or 1xH200),
# so plans are made for the card they run on.
GPUS=${GPUS:-}
if [ -z "$GPUS" ]; then
  case "$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)" in
    *H100*) GPUS=1xH100 ;;
    *) GPUS=1xH200 ;;
  esac
fi
SUMMARY=$ROOT/tools/gpu/ranking_summary.py
mkdir -p "$OUT" "$SCRATCH"
JSONL=$OUT/ranking.jsonl
: >"$JSONL"  # this call's scenarios only (the device's $OUT starts empty; the summary takes several files)
exec > >(tee -a "$OUT/ranking_log.txt") 2>&1
t_start=$(date +%s)
echo "== ranking_check.sh $(date -u +%FT%TZ) scenarios: $SCENARIOS; top $TOP; $STEPS steps; dry run: $DRY_RUN"

if [ "$DRY_RUN" = 1 ]; then
  Z=${ZPLAN:-$ROOT/build/release/tools/zplan}
  [ -x "$Z" ] || { echo "!! DRY_RUN=1 needs a zplan binary: build it (cmake --build build/release --target zplan) or set ZPLAN"; exit 2; }
elif [ -n "${ZPLAN:-}" ]; then
  Z=$ZPLAN  # built elsewhere (with zplan-run beside it): no build, e.g. SCENARIOS=tiny on a CPU machine
else
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  rm -f "$OUT/build_rest.txt"
  # shellcheck source=tools/gpu/build_runtime.sh
  source "$ROOT/tools/gpu/build_runtime.sh"
  build_runtime zplan zplan-run
  echo "build seconds $(( $(date +%s) - t_start ))"
  Z=$B/tools/zplan
fi

# Qwen3-30B-A3B cut to 4 layers (zplan has no layer-count flag): a model file beside the built-ins.
# shellcheck source=tools/gpu/cut_model.sh
source "$ROOT/tools/gpu/cut_model.sh"
MOE4L=$(cut_model qwen3-30b-a3b 4)

late() { (( $(date +%s) - t_start > DEADLINE_S )) && { echo "!! $1: SKIPPED (past DEADLINE_S=$DEADLINE_S s)"; return 0; }; return 1; }

scenario() {  # name, then the scenario's zplan flags (model, sequence, batch)
  local name=$1; shift
  local plan=$SCRATCH/ranking_${name}_plan.json
  if late "$name"; then
    printf '{"kind": "skipped", "scenario": "%s", "why": "past DEADLINE_S before planning"}\n' "$name" >>"$JSONL"
    return
  fi
  echo "-- $name: zplan $* --gpus $GPUS --profile zplan --format json"
  "$Z" "$@" --gpus $GPUS --profile zplan --format json >"$plan"
  local st=$?
  if (( st != 0 )); then echo "!! $name: planning exit status $st (3: nothing fits)"; return; fi
  python3 "$SUMMARY" plan-line "$name" "$plan" "$TOP" "$*" >>"$JSONL" || { echo "!! $name: bad plan JSON"; return; }
  local i=0 flags
  # One line per plan: the pinned strategy flags (ranking_summary.py flags).
  while IFS= read -r flags; do
    local rec=$SCRATCH/ranking_${name}_p$i.json
    if late "$name plan $i"; then
      python3 "$SUMMARY" run-line "$name" "$i" skipped "" >>"$JSONL"
    elif [ "$DRY_RUN" = 1 ]; then
      echo "   plan $i: $Z $* --gpus $GPUS $flags --run --steps $STEPS --run-out $rec"
    else
      echo "   plan $i: zplan $* --gpus $GPUS $flags --run --steps $STEPS"
      rm -f "$rec"
      # shellcheck disable=SC2086
      timeout 120 "$Z" "$@" --gpus $GPUS $flags --run --steps "$STEPS" --run-out "$rec" </dev/null >"$SCRATCH/ranking_run.txt" 2>&1
      st=$?
      grep -E "tokens/s|peak allocated|OOM|not running|error|failed" "$SCRATCH/ranking_run.txt" | tail -4
      (( st != 0 )) && echo "!! $name plan $i: exit status $st (3: does not fit; 4: the run failed; 124: timed out)"
      python3 "$SUMMARY" run-line "$name" "$i" "$st" "$rec" >>"$JSONL"
    fi
    i=$((i + 1))
  done < <(python3 "$SUMMARY" flags "$plan" "$TOP")
}

for sc in $SCENARIOS; do
  case $sc in
    q06b_4k)     scenario q06b_4k --model qwen3-0.6b --seq 4096 ;;
    q06b_8k)     scenario q06b_8k --model qwen3-0.6b --seq 8192 ;;
    q06b_16k)    scenario q06b_16k --model qwen3-0.6b --seq 16384 ;;
    q17b_8k)     scenario q17b_8k --model qwen3-1.7b --seq 8192 ;;
    q4b_4k)      scenario q4b_4k --model qwen3-4b --seq 4096 ;;
    llama1b_32k) scenario llama1b_32k --model llama-3.2-1b --seq 32768 ;;
    # Families no ranking check ran before: Gemma 3 (head dim 256, five of six layers sliding) and
    # Llama-3.2-3B (tied embeddings, head dim 128).
    gemma1b_32k) scenario gemma1b_32k --model gemma-3-1b --seq 32768 ;;
    llama3b_16k) scenario llama3b_16k --model llama-3.2-3b --seq 16384 ;;
    # A global batch of 8 sequences keeps each MoE step (the runtime's expert loop) short.
    moe4l_4k)    scenario moe4l_4k --model "$MOE4L" --seq 4096 --global-batch 8 ;;
    # The script's own test without a GPU (ZPLAN=build/release/tools/zplan SCENARIOS=tiny): GPT-2 on the CPU.
    tiny)        scenario tiny --model gpt2 --seq 128 --global-batch 2 ;;
    *) echo "!! unknown scenario '$sc' (expected q06b_4k q06b_8k q06b_16k q17b_8k q4b_4k llama1b_32k gemma1b_32k llama3b_16k moe4l_4k)" ;;
  esac
done

python3 "$SUMMARY" summary "$JSONL" || echo "!! SUMMARY FAILED"
echo "total seconds $(( $(date +%s) - t_start ))"
