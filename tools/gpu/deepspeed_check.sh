#!/usr/bin/env bash
# One device call: install DeepSpeed from .whl/, measure the runs of
# tools/hf_reference/measure_deepspeed.py (records to $OUT/records, log to $OUT/deepspeed.log).
#   device: run  command="bash tools/gpu/deepspeed_check.sh"  carry=[".whl"]
# Then, here: cp <files_at>/records/*.json tests/regression/measured/hf_deepspeed/
set -uo pipefail
OUT=${OUT:-out}; mkdir -p "$OUT"
export OUT
{
  source tools/gpu/install_deepspeed.sh || exit 2
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 tools/hf_reference/measure_deepspeed.py --deadline-s "${DEADLINE_S:-280}" ${FILTER:+--filter "$FILTER"} \
    --skip-measured tests/regression/measured/hf_deepspeed
} 2>&1 | tee "$OUT/deepspeed.log"
rm -rf "$OUT/trainer_tmp"
