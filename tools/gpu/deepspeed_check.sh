#!/usr/bin/env bash
# One device call: install DeepSpeed from .whl/, measure the runs of
# tools/hf_reference/measure_deepspeed.py (records to $OUT/records, log to $OUT/deepspeed.log).
#   device: run  command="bash tools/gpu/deepspeed_check.sh"  carry=[".whl"]
# Then, here: tar -xf <files_at>/records.tar and copy the new records into a new folder of
# tests/regression/measured/ (hf_deepspeed2/ holds the third call's); compare them once before any change.
set -uo pipefail
OUT=${OUT:-out}; mkdir -p "$OUT"
export OUT
{
  source tools/gpu/install_deepspeed.sh || exit 2
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 tools/hf_reference/measure_deepspeed.py --deadline-s "${DEADLINE_S:-280}" ${FILTER:+--filter "$FILTER"} \
    --skip-measured tests/regression/measured
} 2>&1 | tee "$OUT/deepspeed.log"
rm -rf "$OUT/trainer_tmp"
