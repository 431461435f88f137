#!/usr/bin/env bash
# One device call: the capacity CUDA reports to a process (cudaMemGetInfo total, what PyTorch's
# allocator and zplan's memory_bytes mean) beside nvidia-smi's total, and the memory a bare CUDA
# context takes, on whatever GPU the machine has. Copy the total into hardware/gpus/<gpu>.yaml's
# memory_bytes and replace its "ASSUMED" note with this script and the date.
#   device: run  command="bash tools/gpu/capacity_check.sh"
set -uo pipefail
OUT=${OUT:-out}; mkdir -p "$OUT"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 - <<'PY'
import torch
free, total = torch.cuda.mem_get_info()
print(f"device {torch.cuda.get_device_name()}: cudaMemGetInfo total {total} bytes ({total / 2**20:.0f} MiB), "
      f"free after a bare context {free} bytes; context + driver reserve {(total - free) / 2**20:.1f} MiB")
print(f"torch.cuda.get_device_properties(0).total_memory {torch.cuda.get_device_properties(0).total_memory}")
PY
} 2>&1 | tee "$OUT/capacity.log"
