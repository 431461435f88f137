#!/bin/bash
# host_dispatch_check.sh: ONE call on the GPU machine (transformers + PyTorch with CUDA, no build):
# what the host dispatches per training step and what it costs, per family and recipe
# (docs/cost-model.md, "Autocast's casts and the host's dispatches"). For bf16 and amp-bf16 weights, each of five families at 512
# tokens without recompute: host and GPU seconds per phase, kernels by name, aten ops, autograd
# nodes and module calls (measure_host_phases.py --kernel-names --count-ops); the bf16 pass is run
# twice, in opposite orders of models, to show how far one host's time moves within the call. A
# probe of the host's speed (a trivial CUDA op launched 20000 times) runs before, between and after.
#     bash tools/gpu/host_dispatch_check.sh            # writes $OUT/host_dispatch.tar (or ./host_dispatch)
set -u
out=${OUT:-.}/host_dispatch
mkdir -p "$out"
here=$(dirname "$0")
models=${MODELS:-gpt2,gpt2-large,qwen3-0.6b,llama-3.2-1b,gemma-3-1b}
reversed=$(echo "$models" | tr ',' '\n' | tac | paste -sd,)
probe() {
  python3 - "$1" <<'PY' | tee -a "$out/launch_probe.txt"
import sys, time, torch
x = torch.zeros(1, device="cuda")
for _ in range(2000):
    x.add_(1)
torch.cuda.synchronize()
rows = []
for _ in range(5):
    t0 = time.perf_counter()
    for _ in range(20000):
        x.add_(1)
    t1 = time.perf_counter()
    torch.cuda.synchronize()
    rows.append(1e6 * (t1 - t0) / 20000)
print(f"{sys.argv[1]}: host us per launch of x.add_(1), 5 repeats: " + " ".join(f"{r:.2f}" for r in rows))
PY
}
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; lscpu | grep -E 'Model name|^CPU\(s\)|MHz'; } > "$out/machine.txt" 2>&1
probe start
python3 "$here/measure_host_phases.py" --out "$out/bf16.json" --models "$models" --seqs 512 --checkpointing off \
  --precision bf16 --kernel-names --count-ops > "$out/bf16_log.txt" 2>&1
probe after_bf16
python3 "$here/measure_host_phases.py" --out "$out/amp_bf16.json" --models "$models" --seqs 512 --checkpointing off \
  --precision amp-bf16 --kernel-names --count-ops > "$out/amp_bf16_log.txt" 2>&1
probe after_amp
python3 "$here/measure_host_phases.py" --out "$out/bf16_reversed.json" --models "$reversed" --seqs 512 \
  --checkpointing off --precision bf16 --count-ops > "$out/bf16_reversed_log.txt" 2>&1
probe end
tail -n 3 "$out"/*_log.txt
if [ -n "${OUT:-}" ]; then tar -C "$OUT" -cf "$OUT/host_dispatch.tar" host_dispatch && rm -rf "$out"; fi
