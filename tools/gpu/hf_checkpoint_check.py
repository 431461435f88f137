#!/usr/bin/env python3
"""hf_checkpoint_check.py: zplan-run against transformers on Hugging Face checkpoints (driven by
tools/gpu/hf_checkpoint_check.sh; run on an H100, every family passing: docs/measurements/2026-12-05/).

For each family (gpt2, llama, qwen3, qwen3-moe, gemma3, mixtral; tiny configs, no network) and dtype (bf16, fp32):
  (a) transformers builds the model from its config with a fixed seed and saves it
      (save_pretrained, safetensors); `zplan-run --init-from DIR --steps 0 --eval-data eval.bin`
      prints the loss of those weights on fixed tokens; transformers' loss on the same tokens
      must agree within the tolerance below.
  (b) `zplan-run --init-from DIR --steps 3 --data train.bin --eval-data eval.bin --save-hf OUT`
      trains a few steps, prints the eval loss of the trained weights and writes OUT;
      AutoModelForCausalLM.from_pretrained(OUT) must load every tensor (no missing, unexpected or
      mismatched keys) and give the same loss on the same tokens.
Tolerances (relative, on a loss near ln(vocab) = 6.9): bf16 1e-2 (bf16 matmuls and softmax in
different kernels), fp32 1e-5 (same math, different reduction orders; no TF32 on either side).
Exit status 0 when every comparison passes, 1 otherwise. One JSON line per comparison on stdout.
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
from transformers import (AutoModelForCausalLM, Gemma3TextConfig, GPT2Config, LlamaConfig, MixtralConfig, Qwen3Config,
                          Qwen3MoeConfig)

SEED = 1234
SEQ = 128
VOCAB = 1024
TOL = {"bf16": 1e-2, "fp32": 1e-5}
TORCH_DTYPE = {"bf16": torch.bfloat16, "fp32": torch.float32}


def config_for(family):
    # Tiny versions of each family: the same modules as the real models, a few MB of weights.
    common = dict(vocab_size=VOCAB, max_position_embeddings=256, num_hidden_layers=2, hidden_size=256,
                  num_attention_heads=4, num_key_value_heads=2, intermediate_size=512)
    if family == "gpt2":
        return GPT2Config(n_embd=256, n_layer=2, n_head=4, n_positions=256, vocab_size=VOCAB,
                          resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=True)
    if family == "llama":
        return LlamaConfig(**common, rms_norm_eps=1e-5, tie_word_embeddings=False)
    if family == "qwen3":
        return Qwen3Config(**common, head_dim=64, tie_word_embeddings=True)
    if family == "qwen3-moe":
        return Qwen3MoeConfig(**common, head_dim=64, moe_intermediate_size=128, num_experts=8,
                              num_experts_per_tok=2, norm_topk_prob=True, tie_word_embeddings=False)
    if family == "gemma3":
        # Sliding layer 0 (window 32 < SEQ, local RoPE base), global layer 1 (linear RoPE scaling);
        # query_pre_attn_scalar differs from head_dim so a wrong score scale shows.
        return Gemma3TextConfig(**common, head_dim=64, sliding_window=32,
                                layer_types=["sliding_attention", "full_attention"], query_pre_attn_scalar=48,
                                rope_scaling={"rope_type": "linear", "factor": 4.0}, tie_word_embeddings=True)
    if family == "mixtral":  # saved as block_sparse_moe.experts.N.w1/w3/w2 (runtime/io/hf_disk_names.h)
        return MixtralConfig(**common, num_local_experts=8, num_experts_per_tok=2, rms_norm_eps=1e-5,
                             tie_word_embeddings=False)
    raise SystemExit(f"unknown family {family}")


def write_tokens(path, count, seed):
    ids = np.random.default_rng(seed).integers(0, VOCAB, size=count, dtype=np.uint16)
    ids.tofile(path)
    with open(path + ".json", "w") as f:
        json.dump({"dtype": "uint16", "vocab": VOCAB}, f)
    return ids.astype(np.int64)


def hf_loss(model_dir, dtype, tokens):
    """transformers' loss of model_dir on tokens[:SEQ] -> tokens[1:SEQ+1], as zplan's eval computes it."""
    model, info = AutoModelForCausalLM.from_pretrained(model_dir, dtype=TORCH_DTYPE[dtype], output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    model = model.cuda().eval()
    ids = torch.tensor(tokens[:SEQ]).view(1, SEQ).cuda()
    targets = torch.tensor(tokens[1:SEQ + 1]).cuda()
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    return F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets).item(), bad


def zplan_eval(zplan, args, log_path):
    out = subprocess.run([zplan] + args, capture_output=True, text=True)
    with open(log_path, "w") as f:
        f.write(" ".join([zplan] + args) + "\n" + out.stdout + out.stderr)
    found = re.findall(r"eval loss at step (\d+): ([0-9.eE+-]+)", out.stderr)
    if out.returncode != 0 or not found:
        return None, out.returncode
    return float(found[-1][1]), 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--zplan-run", required=True)
    ap.add_argument("--work", required=True, help="scratch directory for checkpoints and token files")
    ap.add_argument("--out", required=True, help="logs of every zplan-run call")
    ap.add_argument("--families", default="gpt2,llama,qwen3,qwen3-moe,gemma3,mixtral")
    ap.add_argument("--dtypes", default="bf16,fp32")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    eval_tokens = write_tokens(os.path.join(a.work, "eval.bin"), SEQ + 1, SEED)
    write_tokens(os.path.join(a.work, "train.bin"), 64 * SEQ + 1, SEED + 1)
    failures = 0
    for family in a.families.split(","):
        for dtype in a.dtypes.split(","):
            tag = f"{family}_{dtype}"
            src = os.path.join(a.work, "hf_" + tag)
            torch.manual_seed(SEED)
            model = AutoModelForCausalLM.from_config(config_for(family), dtype=TORCH_DTYPE[dtype])
            model.save_pretrained(src)  # safetensors, transformers 5's only format
            del model
            flags = ["--init-from", src, "--gpus", "1xH100", "--seq", str(SEQ), "--micro-batch", "1", "--zero", "0",
                     "--ckpt", "none", "--precision", dtype, "--run", "--eval-data", os.path.join(a.work, "eval.bin"),
                     "--eval-batches", "1", "--seed", str(SEED)]
            ref, _ = hf_loss(src, dtype, eval_tokens)
            # (a) transformers' checkpoint in zplan
            z, rc = zplan_eval(a.zplan_run, flags + ["--steps", "0", "--run-out", os.path.join(a.work, tag + "_a.json")],
                               os.path.join(a.out, tag + "_a.txt"))
            failures += report(tag, "a: transformers checkpoint -> zplan", z, ref, dtype, rc, {})
            # (b) zplan's checkpoint in transformers, after 3 steps of training
            dst = os.path.join(a.work, "zplan_" + tag)
            z, rc = zplan_eval(a.zplan_run, flags + ["--steps", "3", "--lr", "1e-3", "--data", os.path.join(a.work, "train.bin"),
                                                     "--save-hf", dst, "--run-out", os.path.join(a.work, tag + "_b.json")],
                               os.path.join(a.out, tag + "_b.txt"))
            ref_b, bad = (hf_loss(dst, dtype, eval_tokens) if z is not None else (None, {}))
            failures += report(tag, "b: zplan --save-hf after 3 steps -> transformers", z, ref_b, dtype, rc, bad)
    print(json.dumps({"summary": "hf_checkpoint_check", "failures": failures}))
    return 1 if failures else 0


def report(tag, what, zplan_loss, hf, dtype, rc, loading_problems):
    row = {"case": tag, "check": what, "zplan_loss": zplan_loss, "transformers_loss": hf, "tolerance": TOL[dtype]}
    ok = zplan_loss is not None and hf is not None and not loading_problems
    if ok:
        row["relative_error"] = abs(zplan_loss - hf) / abs(hf)
        ok = row["relative_error"] <= TOL[dtype]
    if rc:
        row["zplan_exit_status"] = rc
    if loading_problems:
        row["from_pretrained_problems"] = {k: sorted(map(str, v))[:5] for k, v in loading_problems.items()}
    row["pass"] = ok
    print(json.dumps(row), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
