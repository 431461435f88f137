"""The Hugging Face Trainer entry point of `zplan --run --framework deepspeed`.

zplan plans for Hugging Face + DeepSpeed, writes the DeepSpeed config, and starts this script on
the local GPUs with DeepSpeed's launcher:
    python3 -m deepspeed.launcher.runner --num_gpus N tools/hf_reference/deepspeed_run.py \\
        --model qwen3-0.6b --seq 4096 --deepspeed plan.json --steps 3 --out record.json
It builds the model from its config with random weights, trains `--steps` optimizer steps with
transformers.Trainer(TrainingArguments(deepspeed=<file>)) on random tokens, and rank 0 writes one
run record (docs/run-records.md; the same fields tools/hf_reference/measure_deepspeed.py writes:
per-step peak allocated and reserved, memory outside the allocator, host resident set), which
zplan then compares with its prediction. Exit status: 0 trained, 3 out of memory, 1 other failure.
"""
import argparse, json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matrix  # noqa: E402
import measure_deepspeed as md  # noqa: E402 - the Trainer loop and the record format


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="a name in matrix.py, or a Hugging Face config.json")
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--deepspeed", required=True, help="the DeepSpeed config zplan wrote")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--ckpt", choices=["off", "full"], default="off")
    ap.add_argument("--out", required=True, help="run record (rank 0)")
    ap.add_argument("--command", default="", help="the zplan command line, kept in the record")
    ap.add_argument("--local_rank", type=int, default=None, help=argparse.SUPPRESS)  # DeepSpeed's launcher
    a = ap.parse_args()
    is_file = a.model.endswith(".json")
    if not is_file and a.model not in matrix.MODELS:
        print(f"deepspeed_run.py: --model {a.model}: no Hugging Face config for it in tools/hf_reference/matrix.py; "
              "pass the model's config.json", file=sys.stderr)
        return 2
    with open(a.deepspeed) as f:
        cfg = json.load(f)
    z = cfg.get("zero_optimization", {})
    on = lambda k: z.get(k, {}).get("device") == "cpu"  # noqa: E731
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    import torch
    torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    import deepspeed
    deepspeed.init_distributed(dist_backend="nccl")
    r = md.run(os.path.basename(a.model)[:-5] if is_file else a.model, a.seq, z.get("stage", 0),
               recipe="bf16" if cfg.get("bf16", {}).get("enabled") else "fp16",
               mb=cfg["train_micro_batch_size_per_gpu"], ckpt=a.ckpt, loop="trainer",
               offload_opt=on("offload_optimizer"), offload_param=on("offload_param"), group="zplan-run",
               config_file=os.path.abspath(a.deepspeed))
    r.update(steps=a.steps, world=world, ga=cfg.get("gradient_accumulation_steps", 1), command=a.command or None)
    if is_file:
        r["model_config_path"] = a.model
    vers = {**md.versions(), "gpu": torch.cuda.get_device_name()}
    record = md.measure(r, vers, torch.cuda.mem_get_info()[1])
    if rank == 0:
        with open(a.out, "w") as f:
            json.dump(record, f, indent=1)
    if record.get("oom"):
        return 3
    return 1 if record.get("run_notes", {}).get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
