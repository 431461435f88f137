#!/bin/bash
# trainer_check.sh: `zplan --run` as a trainer on the GPU machine (run on an H100:
# docs/measurements/2026-12-05/call4/trainer_check.txt). Run it after tools/gpu/check.sh in the same warm session, which leaves
# the build in $SCRATCH/build (SCRATCH defaults to ${TMPDIR:-/tmp}/zplan, as there):
#   run(command="bash tools/gpu/trainer_check.sh", timeout_s=480)
# What it shows, with qwen3-0.6b from random weights in bf16 on byte-level data (the repository's
# docs through tools/tokenize_text.py --byte-level; ids < 256 are valid for any vocabulary):
#   1. 200 steps with warm-up + cosine, clipping, held-out eval every 50 steps and a JSONL log:
#      the training and held-out losses fall, the progress line shows the allocator's peak.
#   2. SIGINT after 20 logged steps: exit 130 and a complete checkpoint; --resume reaches --steps.
# Results go to $OUT (default $SCRATCH/out): trainer_log.jsonl, trainer_check.txt.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRATCH=${SCRATCH:-${TMPDIR:-/tmp}/zplan}  # build, unpacked .debs and temporary files
OUT=${OUT:-$SCRATCH/out}
B=${B:-$SCRATCH/build}
Z=$B/tools/zplan-run
mkdir -p "$OUT"
exec > >(tee -a "$OUT/trainer_check.txt") 2>&1
[ -x "$Z" ] || { echo "no $Z: run tools/gpu/check.sh first"; exit 1; }
W=$(mktemp -d)
python3 "$ROOT/tools/tokenize_text.py" --byte-level --split blank-line --eval-fraction 0.05 \
  --eval-out "$W/eval.bin" --out "$W/train.bin" "$ROOT"/docs/*.md "$ROOT"/README.md || exit 1
common=(--model qwen3-0.6b --gpus 1xH100 --seq 1024 --zero 0 --ckpt none --micro-batch 4 --precision bf16
        --run --data "$W/train.bin" --lr 3e-4 --warmup-steps 20 --min-lr 3e-5 --clip-grad 1.0)

echo "-- 1. 200 steps, eval every 50"
"$Z" "${common[@]}" --steps 200 --eval-data "$W/eval.bin" --eval-every 50 \
  --log-jsonl "$OUT/trainer_log.jsonl" --run-out "$OUT/trainer_run.json" 2>&1 | grep -E "step (1|50|100|150|200)/|eval|zplan:"
echo "exit status $? (expected 0)"
python3 - "$OUT/trainer_log.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
first = sum(r["loss"] for r in rows[:10]) / 10
last = sum(r["loss"] for r in rows[-10:]) / 10
evals = [(r["step"], r["eval_loss"]) for r in rows if "eval_loss" in r]
print(f"lines {len(rows)}, loss first 10 {first:.3f}, last 10 {last:.3f}, eval {evals}")
print(f"peak_allocated_bytes max {max(r['peak_allocated_bytes'] for r in rows)}, tokens/s last {rows[-1]['tokens_per_second']:.0f}")
PY

echo "-- 2. Ctrl-C after 20 steps, then resume to 40"
rm -f "$W/ck.zpt" "$W/log2.jsonl"
"$Z" "${common[@]}" --steps 40 --checkpoint "$W/ck.zpt" --log-jsonl "$W/log2.jsonl" > /dev/null 2> "$W/err.txt" &
PID=$!
for _ in $(seq 600); do [ -f "$W/log2.jsonl" ] && [ "$(wc -l < "$W/log2.jsonl")" -ge 20 ] && break; sleep 0.1; done
kill -INT $PID; wait $PID; echo "exit status $? (expected 130)"
tail -1 "$W/err.txt"; ls -l "$W"/ck.zpt*
"$Z" "${common[@]}" --steps 40 --resume "$W/ck.zpt" --log-jsonl "$W/log2.jsonl" 2>&1 | grep -E "resumed|step 40/"
echo "exit status $? (expected 0); log lines $(wc -l < "$W/log2.jsonl") (expected 40)"
rm -rf "$W"
