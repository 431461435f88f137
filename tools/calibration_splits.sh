#!/bin/bash
# calibration_splits.sh: the held-out splits of docs/cost-model.md ("Refit and held out"), each a
# fresh `zplan calibrate` on tests/regression/measured with one --holdout, one line per split:
# the fit's own error, the held-out runs' error and leave-one-model-out, mean / max.
#   bash tools/calibration_splits.sh [ZPLAN]     (default build/release/tools/zplan)
# Nothing is written: calibrate's --out is not given. A change to the step-time model is scored by
# running this before and after it (docs/cost-model.md, "Two host mechanisms tried").
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
Z=${1:-$ROOT/build/release/tools/zplan}
[ -x "$Z" ] || { echo "calibration_splits.sh: no zplan at $Z (build it or pass its path)" >&2; exit 2; }
cd "$ROOT" || exit 2
summary() {  # profile label, calibrate output line -> one line
  sed -E 's/.*after ([^;]*); held out ([0-9]+) runs: before [^,]*, after ([^;]*); leave-one-model-out ([^(]*).*/fit \1 | held out (\2 runs) \3 | leave-one-model-out \4/'
}
for h in '' ranking holdout elementwise cross_entropy fused_adamw grouped_mm longctx fused_norm; do
  printf 'h100 zplan %-14s ' "${h:-(none)}"
  "$Z" calibrate tests/regression/measured --gpu h100-80gb --holdout "$h" 2>&1 | grep 'zplan fit' | summary
done
for h in '' holdout; do
  printf 'h100 hf    %-14s ' "${h:-(none)}"
  "$Z" calibrate tests/regression/measured --gpu h100-80gb --holdout "$h" 2>&1 | grep 'hf    fit' | summary
done
printf 'h200 hf    %-14s ' 'deepspeed,zplan_ranking3'
"$Z" calibrate tests/regression/measured --gpu h200-141gb --holdout deepspeed,zplan_ranking3 2>&1 | grep 'hf    fit' | summary
