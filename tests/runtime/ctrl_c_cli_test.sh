#!/usr/bin/env bash
# Black-box test of `zplan-run --run` as a trainer: tools/tokenize_text.py --byte-level writes a
# token file with its sidecar; a training run is sent SIGINT (as Ctrl-C does) once it has logged
# 3 steps: it must exit 130, leave a complete checkpoint (no .tmp) and one JSONL line per step;
# --resume continues to --steps; a token file with an id beyond the vocabulary exits 2 naming
# the file and the position.  Usage: ctrl_c_cli_test.sh ZPLAN_RUN SOURCE_DIR
set -euo pipefail
run=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
python3 "$src/tools/tokenize_text.py" --byte-level --split blank-line --eval-fraction 0.1 \
  --eval-out eval.bin --out train.bin "$src/docs/runtime.md" "$src/docs/cli.md"
grep -q '"dtype": "uint16"' train.bin.json
common=(--model "$src/tests/data/tiny-bytes.yaml" --gpus 1xH100 --seq 64 --micro-batch 4 --precision fp32 --run
        --data train.bin --log-jsonl log.jsonl --checkpoint ck.zpt --lr 3e-3 --warmup-steps 5 --min-lr 3e-4)

"$run" "${common[@]}" --steps 100000 > out.txt 2> err.txt &
pid=$!
for _ in $(seq 600); do
  [ -f log.jsonl ] && [ "$(wc -l < log.jsonl)" -ge 3 ] && break
  sleep 0.1
done
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 130 ] || { echo "expected exit 130 after SIGINT, got $rc"; cat err.txt; exit 1; }
grep -q "interrupted (Ctrl-C) after step" err.txt
[ -f ck.zpt ] && [ ! -e ck.zpt.tmp ] || { echo "no complete checkpoint"; ls -l; exit 1; }
head -1 ck.zpt | grep -qx "ZPLAN-CHECKPOINT 1"
steps=$(wc -l < log.jsonl)
grep -q "after step $steps of 100000" err.txt || { echo "log has $steps lines, message disagrees"; cat err.txt; exit 1; }

"$run" "${common[@]}" --steps $((steps + 2)) --resume ck.zpt > out2.txt 2> err2.txt \
  || { echo "resume failed"; cat err2.txt; exit 1; }
grep -q "resumed from ck.zpt at step $steps" err2.txt
[ "$(wc -l < log.jsonl)" = $((steps + 2)) ] || { echo "log should have $((steps + 2)) lines"; exit 1; }

python3 - <<'PY'
from array import array
ids = array("H", [65] * 200); ids[150] = 300
with open("bad.bin", "wb") as f: ids.tofile(f)
PY
rc=0
"$run" --model "$src/tests/data/tiny-bytes.yaml" --gpus 1xH100 --seq 64 --run --steps 1 --data bad.bin > /dev/null 2> err3.txt || rc=$?
[ "$rc" = 2 ] || { echo "expected exit 2 for an id beyond the vocab, got $rc"; exit 1; }
grep -q "bad.bin: token 150 (byte offset 300) is id 300, not below the model's vocab 256" err3.txt \
  || { cat err3.txt; exit 1; }
echo "ok: Ctrl-C after step $steps -> exit 130 and a complete checkpoint; resumed to step $((steps + 2))"
