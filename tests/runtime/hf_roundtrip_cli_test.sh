#!/usr/bin/env bash
# Black-box test of --save-hf and --init-from through zplan-run: train tiny-qwen3 for 2 steps and
# save it; a second run loads it with --init-from alone (the model comes from its config.json) and
# --steps 0 must print the same held-out loss to all 9 digits; nothing half-written is left beside
# the checkpoint; saving again over it replaces it.
# Usage: hf_roundtrip_cli_test.sh ZPLAN_RUN SOURCE_DIR [CONFIG in tests/data/hf/run, default tiny-qwen3] [MODEL_TYPE]
set -euo pipefail
run=$1 src=$2 model=${3:-tiny-qwen3} type=${4:-qwen3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
python3 "$src/tools/tokenize_text.py" --byte-level --split blank-line --eval-fraction 0.1 \
  --eval-out eval.bin --out train.bin "$src/docs/runtime.md"
common=(--gpus 1xH100 --seq 32 --micro-batch 2 --zero 0 --ckpt none --precision fp32 --run
        --eval-data eval.bin --eval-batches 2 --run-out run.json)
loss_at() { sed -n "s/^\[zplan-run\] eval loss at step $1: //p" "$2"; }

"$run" --model "$src/tests/data/hf/run/$model.json" "${common[@]}" --steps 2 --data train.bin --lr 1e-3 \
  --save-hf ckpt > out1.txt 2> err1.txt || { cat err1.txt; exit 1; }
trained=$(loss_at 2 err1.txt)
[ -n "$trained" ] && [ -f ckpt/config.json ] && [ -f ckpt/model.safetensors ] || { echo "no loss or checkpoint"; cat err1.txt; ls -la; exit 1; }
[ "$(ls -A | grep -c '^\.ckpt\.')" = 0 ] || { echo "temporary directory left behind"; ls -la; exit 1; }
grep -q "\"model_type\": \"$type\"" ckpt/config.json

"$run" --init-from ckpt "${common[@]}" --steps 0 --save-hf ckpt > out2.txt 2> err2.txt || { cat err2.txt; exit 1; }
loaded=$(loss_at 0 err2.txt)
[ "$trained" = "$loaded" ] || { echo "loss after saving $trained, after loading $loaded"; exit 1; }
grep -q "weights from ckpt" err2.txt
[ "$(ls -A | grep -c '^\.ckpt\.')" = 0 ] || { echo "old or temporary directory left behind"; ls -la; exit 1; }
echo "round trip: eval loss $trained before and after --save-hf / --init-from"
