#!/bin/bash
# calibration_splits.sh: the held-out splits of docs/cost-model.md ("Refit and held out"), each a
# fresh `zplan calibrate` on tests/regression/measured with one --holdout, one line per split:
# the fit's own error, the held-out runs' error and leave-one-model-out, mean / max.
#   bash tools/calibration_splits.sh [ZPLAN]     (default build/release/tools/zplan)
# Nothing is written: calibrate's --out is not given. A change to the step-time model is scored by
# running this before and after it (docs/cost-model.md, "Two host mechanisms tried").
# WORST=N also prints, under each split, its N largest held-out and leave-one-model-out errors with
# their records (zplan calibrate --worst N).
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
Z=${1:-$ROOT/build/release/tools/zplan}
[ -x "$Z" ] || { echo "calibration_splits.sh: no zplan at $Z (build it or pass its path)" >&2; exit 2; }
cd "$ROOT" || exit 2
summary() {  # profile label, calibrate output line -> one line
  sed -E 's/.*after ([^;]*); held out ([0-9]+) runs: before [^,]*, after ([^;]*); leave-one-model-out ([^(]*).*/fit \1 | held out (\2 runs) \3 | leave-one-model-out \4/'
}
WORST=${WORST:-0}
case $WORST in ''|*[!0-9]*) echo "calibration_splits.sh: WORST must be a whole number, got '$WORST'" >&2; exit 2 ;; esac
split() {  # label, GPU, profile ("zplan" or "hf   "), holdout
  local out
  printf '%s %-14s ' "$1" "${4:-(none)}"
  local worst=()
  ((WORST > 0)) && worst=(--worst "$WORST")
  out=$("$Z" calibrate tests/regression/measured --gpu "$2" --holdout "$4" "${worst[@]}" 2>&1)
  grep "$3 fit" <<<"$out" | summary
  # The listing's headings name GPU and profile; its rows are indented.
  ((WORST > 0)) && awk -v p="${3%% *}," '/, (held out|leave-one-model-out): the / { show = ($2 == p); if (show) print "    " $0; next }
                                         show && /^  / { print "    " $0 }' <<<"$out"
  return 0
}
for h in '' ranking holdout elementwise cross_entropy fused_adamw grouped_mm longctx fused_norm kernel_rates; do
  split 'h100 zplan' h100-80gb zplan "$h"
done
# hf_recheck (call27, the H100 re-measurements) stays out of every H100 hf fit, as it does out of
# hardware/calibration/h100-80gb.yaml: its first split scores it alone.
for h in hf_recheck holdout,hf_recheck; do
  split 'h100 hf   ' h100-80gb 'hf   ' "$h"
done
split 'h200 hf   ' h200-141gb 'hf   ' deepspeed,zplan_ranking3
