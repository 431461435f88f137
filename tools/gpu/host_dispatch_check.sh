#!/bin/bash
# host_dispatch_check.sh: ONE call on the GPU machine (transformers + PyTorch with CUDA, no build):
# what the host dispatches per training step and what it costs, per family and recipe
# (docs/cost-model.md, "Autocast's casts and the host's dispatches"; call29). For bf16 and amp-bf16
# weights, each of five families at 512 tokens without recompute: host and GPU seconds per phase,
# kernels by name, aten ops, autograd nodes and module calls (measure_host_phases.py --kernel-names
# --count-ops); the bf16 pass is run twice, in opposite orders of models, to show how far one
# host's time moves within the call. A
# probe of the host's speed (harness.host_launch_probe_us) runs before, between and after, and
# measure_host_phases.py keeps one per row.
#     bash tools/gpu/host_dispatch_check.sh            # writes $OUT/host_dispatch.tar (or ./host_dispatch)
set -u
out=${OUT:-.}/host_dispatch
mkdir -p "$out"
here=$(dirname "$0")
models=${MODELS:-gpt2,gpt2-large,qwen3-0.6b,llama-3.2-1b,gemma-3-1b}
reversed=$(echo "$models" | tr ',' '\n' | tac | paste -sd,)
probe() {  # harness.host_launch_probe_us: the host's microseconds per trivial launch
  python3 -c "import sys; sys.path.insert(0, '$here/../hf_reference'); import harness
print('$1: host us per launch of x.add_(1), median of 5 rounds of 20000: %.2f' % harness.host_launch_probe_us())" \
    | tee -a "$out/launch_probe.txt"
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
