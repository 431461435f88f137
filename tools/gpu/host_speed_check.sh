#!/bin/bash
# host_speed_check.sh: ONE call on the GPU machine (transformers + PyTorch with CUDA, no build): does
# the host's measured speed explain how far a host-bound step of transformers moves, within one call
# and between lent machines? (docs/cost-model.md, "Call30: one lent host against another, and the probes").
# Ten configurations of measure_hf.py (eight the host bounds, two controls the GPU bounds, among
# them call27's) in ROUNDS fresh processes, alternating their order; every record keeps its host's
# CPU, its probes (harness.host_launch_probe_us and host_op_probe_us, run by run) and 5 steps. Between
# rounds 2 and 3, measure_host_phases.py times the host's forward and backward of three families at
# 512 tokens (call29's configuration), to set this host beside call29's.
#     bash tools/gpu/host_speed_check.sh        # writes $OUT/host_speed.tar (or ./host_speed)
set -u
out=${OUT:-.}/host_speed
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
rounds=${ROUNDS:-4}
ids=(qwen3-0.6b_bf16_4096_mb1_ckpt-full qwen3-0.6b_bf16_4096_mb1_ckpt-off qwen3-0.6b_bf16-pure_4096_mb1_ckpt-off
     qwen3-0.6b_bf16_1024_mb1_ckpt-full qwen3-0.6b_amp-bf16_4096_mb1_ckpt-off qwen3-0.6b_amp-bf16_4096_mb1_ckpt-full
     gpt2_amp-bf16_1024_mb8_ckpt-full gpt2_bf16_1024_mb1_ckpt-off llama-3.2-1b_amp-bf16_4096_mb1_ckpt-off
     gemma-3-1b_bf16-pure_4096_mb1_ckpt-off_eager)
filter="^($(printf '%s\n' "${ids[@]}" | sed 's/[.-]/\\&/g' | paste -sd'|'))$"
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; lscpu; grep MHz /proc/cpuinfo | sort | uniq -c | head -5
  nproc; uptime; } > "$out/machine.txt" 2>&1
for r in $(seq 1 "$rounds"); do
  # measure_hf.py runs its matrix in order; even rounds run the ids reversed through --order.
  order=forward; ((r % 2 == 0)) && order=reversed
  OUT=$out/round$r python3 "$here/../hf_reference/measure_hf.py" --filter "$filter" --steps 5 --order "$order" \
    > "$out/round${r}_console.txt" 2>&1
  echo "round $r ($order): $(grep -c '"id"' "$out/round$r/hf_runs.jsonl" 2>/dev/null) records"
  if ((r == 2)); then
    timeout 150 python3 "$here/measure_host_phases.py" --out "$out/host_phases.json" --models qwen3-0.6b,gpt2,llama-3.2-1b \
      --seqs 512 --checkpointing off --precision bf16 --count-ops > "$out/host_phases_log.txt" 2>&1
    echo "host phases: rc $?"
  fi
done
grep MHz /proc/cpuinfo | sort | uniq -c | head -5 >> "$out/machine.txt"
# One line per configuration: its step (ms) round by round.
cat "$out"/round*/log.txt | awk '{ id = ""; for (i = 1; i < NF; ++i) { if ($i ~ /^[0-9]+\/[0-9]+$/) id = $(i + 1); if ($i == "step") ms[id] = ms[id] " " $(i + 1) } }
                                     END { for (id in ms) print id ":" ms[id] }' | sort
if [ -n "${OUT:-}" ]; then tar -C "$OUT" -cf "$OUT/host_speed.tar" host_speed && rm -rf "$out"; fi
