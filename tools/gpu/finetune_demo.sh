#!/bin/bash
# finetune_demo.sh: issue 21's demonstration, one device call (from the repository root):
#   run(command="bash tools/gpu/finetune_demo.sh", carry=[".debs"], timeout_s=600)
# Builds zplan and zplan-run (tools/gpu/build_runtime.sh), tokenises the repository's docs and
# README byte by byte (tools/tokenize_text.py --byte-level, 5% of the paragraphs held out), then
# runs tools/gpu/finetune_demo.py: Qwen3-0.6B built by transformers from its config with seed 1234
# and saved; `zplan --init-from` fine-tunes it for STEPS (default 300) steps of 2048 tokens with
# held-out evaluation and `--save-hf`; transformers loads the result and must give zplan's held-out
# loss, lower than the starting one. Results in $OUT: finetune_demo.txt (JSON lines), the run's
# log (finetune_log.jsonl), record (finetune_run.json) and output (finetune_zplan.txt).
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRATCH=${SCRATCH:-${TMPDIR:-/tmp}/zplan}
OUT=${OUT:-$SCRATCH/out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/finetune_demo.txt") 2>&1
echo "== finetune_demo.sh $(date -u +%FT%TZ)"
python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)' || exit 1
# shellcheck source=tools/gpu/build_runtime.sh
source "$ROOT/tools/gpu/build_runtime.sh"
build_runtime zplan zplan-run
W=$(mktemp -d)
python3 "$ROOT/tools/tokenize_text.py" --byte-level --split blank-line --eval-fraction 0.05 \
  --eval-out "$W/eval.bin" --out "$W/train.bin" "$ROOT"/docs/*.md "$ROOT"/README.md || exit 1
python3 "$ROOT/tools/gpu/finetune_demo.py" --zplan "$B/tools/zplan" --work "$W" --out "$OUT" \
  --train "$W/train.bin" --eval "$W/eval.bin" --steps "${STEPS:-300}"
rc=$?
echo "exit status $rc"
rm -rf "$W"
exit $rc
