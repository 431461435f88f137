#!/usr/bin/env python3
"""finetune_demo.py: issue 21's demonstration on the GPU machine, driven by
tools/gpu/finetune_demo.sh. transformers builds Qwen3-0.6B from its published configuration with a
fixed seed and saves it; `zplan --run --init-from` fine-tunes that checkpoint on the repository's
own text (byte-level ids, valid for any vocabulary) for --steps steps with held-out evaluation,
and saves it with --save-hf; transformers loads the result and computes the held-out loss on the
same windows, which must equal zplan's last evaluation (bf16 tolerance 1e-2) and be below the
starting checkpoint's. Prints one JSON line per stage and a summary; exit status 0 when all hold.
"""
import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, Qwen3Config

SEED = 1234
TOLERANCE = 1e-2  # bf16, as tools/gpu/hf_checkpoint_check.py


def qwen3_0_6b():
    """Qwen/Qwen3-0.6B's config.json values (the same model as models/qwen3-0.6b.yaml)."""
    return Qwen3Config(vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                       num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
                       rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True, attention_bias=False)


def windows(path, seq, count):
    """zplan's held-out windows (runtime/data/token_data.cpp read_window): ids [w*seq, w*seq+seq), targets +1."""
    tokens = np.fromfile(path, dtype=np.uint16).astype(np.int64)
    return [(tokens[w * seq:w * seq + seq], tokens[w * seq + 1:w * seq + seq + 1]) for w in range(count)]


def hf_eval(model_dir, eval_windows):
    model, info = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16, output_loading_info=True)
    problems = {k: sorted(map(str, v))[:5] for k, v in info.items() if v}
    model = model.cuda().eval()
    losses = []
    with torch.no_grad():
        for ids, targets in eval_windows:
            logits = model(input_ids=torch.tensor(ids).view(1, -1).cuda()).logits
            losses.append(F.cross_entropy(logits.float().view(-1, logits.size(-1)), torch.tensor(targets).cuda()).item())
    del model
    torch.cuda.empty_cache()  # zplan runs on the same GPU next; this process keeps only its context
    return sum(losses) / len(losses), problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--zplan", required=True, help="the zplan binary (zplan-run beside it)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--train", required=True, help="token file (tools/tokenize_text.py --byte-level)")
    ap.add_argument("--eval", required=True)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--eval-batches", type=int, default=4)
    a = ap.parse_args()
    base, tuned = os.path.join(a.work, "qwen3-0.6b-seed1234"), os.path.join(a.work, "qwen3-0.6b-tuned")
    torch.manual_seed(SEED)
    AutoModelForCausalLM.from_config(qwen3_0_6b(), dtype=torch.bfloat16).save_pretrained(base)
    eval_windows = windows(a.eval, a.seq, a.eval_batches)
    before, problems = hf_eval(base, eval_windows)
    print(json.dumps({"stage": "transformers, saved checkpoint", "held_out_loss": before}), flush=True)

    command = [a.zplan, "--init-from", base, "--gpus", "1xH100", "--seq", str(a.seq), "--micro-batch", "1",
               "--precision", "bf16", "--run", "--steps", str(a.steps), "--data", a.train, "--eval-data", a.eval,
               "--eval-every", str(max(1, a.steps // 3)), "--eval-batches", str(a.eval_batches), "--lr", "3e-4",
               "--warmup-steps", "20", "--min-lr", "3e-5", "--clip-grad", "1.0", "--seed", str(SEED),
               "--save-hf", tuned, "--log-jsonl", os.path.join(a.out, "finetune_log.jsonl"),
               "--run-out", os.path.join(a.out, "finetune_run.json")]
    run = subprocess.run(command, capture_output=True, text=True)
    with open(os.path.join(a.out, "finetune_zplan.txt"), "w") as f:
        f.write(" ".join(command) + "\n" + run.stdout + run.stderr)
    evals = [(int(s), float(v)) for s, v in re.findall(r"eval loss at step (\d+): ([0-9.eE+-]+)", run.stderr)]
    print(json.dumps({"stage": "zplan --run --init-from ... --save-hf", "exit_status": run.returncode,
                      "held_out_loss_by_step": evals}), flush=True)
    if run.returncode != 0 or not evals:
        print(run.stderr[-2000:])
        return 1

    after, problems_after = hf_eval(tuned, eval_windows)
    zplan_last = evals[-1][1]
    relative = abs(after - zplan_last) / abs(after)
    checks = {"transformers loads zplan's checkpoint (no missing, unexpected or mismatched keys)": not problems_after,
              f"transformers' held-out loss equals zplan's last (relative error {relative:.2e} <= {TOLERANCE})": relative <= TOLERANCE,
              "the held-out loss fell": after < before}
    print(json.dumps({"stage": "transformers, zplan's checkpoint", "held_out_loss": after,
                      "from_pretrained_problems": problems_after, "checks": checks}), flush=True)
    ok = all(checks.values()) and not problems
    print(json.dumps({"summary": "finetune_demo", "held_out_loss_before": before, "held_out_loss_after": after,
                      "steps": a.steps, "pass": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
