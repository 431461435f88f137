"""Ground-truth GPU memory of DeepSpeed ZeRO training of Hugging Face models, for zplan's
--framework deepspeed (profile hf).

Each run builds a model of matrix.py from its config dict with random weights on the GPU, wraps
it with DeepSpeed and trains 3 steps in one of two loops:
  plain    engine = deepspeed.initialize(model, optimizer=AdamW(fused), config);
           out = engine(input_ids=x, labels=x); engine.backward(out.loss); engine.step()
           (`out` of step k lives until step k+1's forward returns, like measure_hf.py)
  trainer  transformers.Trainer(args=TrainingArguments(deepspeed=config, optim=adamw_torch_fused))
           (the Trainer keeps only the loss: logits die before backward)
Optimizer offload uses DeepSpeed's own CPU Adam (built by its JIT on first use), as DeepSpeed
requires. Every run gets a process of its own and the parent never touches the GPU: a ZeRO-3
engine leaves gigabytes allocated after destroy(), and memory outside the allocator and host RSS
are read per device and per process. One run record per run is written to $OUT/records/ as soon
as the run ends (tests/regression/measured format, docs/run-records.md), so a cut-off call loses
nothing.

Usage (GPU machine, after tools/gpu/install_deepspeed.sh):
  python3 tools/hf_reference/measure_deepspeed.py --deadline-s 300
  python3 tools/hf_reference/measure_deepspeed.py --filter 'z3_qwen3-0.6b' --list
"""
import argparse, gc, json, os, re, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matrix  # noqa: E402
import harness  # noqa: E402 - log, readings, model building and record fields shared by every harness
from harness import (T0, breakdown_phases, device_used, error_text, log, mem,  # noqa: E402
                     readings_with_outside, reset_peak, traceback_text)

OUT = harness.out_dir()


def run(model, seq, stage, recipe="bf16", mb=1, ckpt="off", loop="plain", offload_opt=False,
        offload_param=False, group="dev", config_file=None, steps=3):
    r = dict(model=model, seq=seq, stage=stage, recipe=recipe, mb=mb, ckpt=ckpt, loop=loop,
             offload_opt=offload_opt, offload_param=offload_param, group=group, config_file=config_file,
             steps=steps)
    off = ("_offopt" if offload_opt else "") + ("_offparam" if offload_param else "")
    r["id"] = (f"ds-z{stage}{off}_{loop}_{model}_{recipe}_{seq}_mb{mb}_ckpt-{ckpt}" + ("_emitted" if config_file else "")
               + (f"_{steps}steps" if steps != 3 else ""))
    return r


def emitted(path, model, seq, loop="trainer", ckpt="off", group="holdout"):
    """A run of a config `zplan --emit-deepspeed` wrote (kept in the repo): the run proves the file
    works with DeepSpeed and the Trainer, and measures the plan zplan chose."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    full = os.path.join(root, path)
    with open(full) as f:
        c = json.load(f)
    z = c.get("zero_optimization", {})
    dev = lambda k: z.get(k, {}).get("device") == "cpu"  # noqa: E731
    return run(model, seq, z.get("stage", 0), recipe="bf16" if c.get("bf16", {}).get("enabled") else "fp16",
               mb=c["train_micro_batch_size_per_gpu"], ckpt=ckpt, loop=loop, offload_opt=dev("offload_optimizer"),
               offload_param=dev("offload_param"), group=group, config_file=path)


# The order is the priority: a call that runs out of time keeps what ran. "dev" runs are the ones
# the model may be changed against; "holdout" runs are compared once, before any such change.
RUNS = [
    # the configs zplan emitted (tests/data/deepspeed/emitted, commands in its README) come first
    emitted("tests/data/deepspeed/emitted/qwen3-0.6b_1xh200_4096_z3-offload.json", "qwen3-0.6b", 4096),
    emitted("tests/data/deepspeed/emitted/llama-3.2-1b_1xh200_8192_chosen.json", "llama-3.2-1b", 8192),
    # host RAM of optimizer offload on models the host model was not built against
    run("llama-3.2-1b", 8192, 2, ckpt="full", offload_opt=True, group="holdout"),
    run("qwen3-30b-a3b-2l", 4096, 2, offload_opt=True, group="holdout"),
    run("qwen3-0.6b", 4096, 0), run("qwen3-0.6b", 4096, 1), run("qwen3-0.6b", 4096, 2),
    run("qwen3-0.6b", 4096, 2, offload_opt=True),
    run("qwen3-0.6b", 4096, 3),
    run("llama-3.2-1b", 8192, 3, ckpt="full", group="holdout"),
    run("qwen3-30b-a3b-2l", 4096, 3, group="holdout"),
    run("qwen3-30b-a3b-2l", 4096, 2, group="holdout"),
    run("llama-3.2-1b", 8192, 1, ckpt="full", group="holdout"),
    run("qwen3-0.6b", 4096, 2, loop="trainer"),
    run("qwen3-0.6b", 4096, 3, offload_opt=True, offload_param=True),
    run("qwen3-0.6b", 4096, 2, recipe="fp16"),
    run("qwen3-0.6b", 4096, 3, recipe="fp16"),
    run("qwen3-0.6b", 4096, 3, loop="trainer"),
    run("qwen3-1.7b", 16384, 2, ckpt="full", mb=1, group="holdout"),
    run("llama-3.2-1b", 4096, 0, recipe="fp16", group="holdout"),
    # ZeRO-3's steady step (planner/cost/deepspeed_step.h deepspeed_first_steady_step): step 2 pays a
    # one-time trace scan, so these run 5 steps; configurations not measured before, compared once.
    run("qwen3-0.6b", 4096, 3, steps=5, group="steady"),
    run("qwen3-1.7b", 4096, 3, steps=5, group="steady"),
    run("llama-3.2-1b", 4096, 3, steps=5, group="steady"),
    run("qwen3-1.7b", 4096, 2, steps=5, group="steady"),
    run("qwen3-0.6b", 8192, 3, mb=2, steps=5, group="steady"),
    run("gemma-3-1b", 4096, 3, steps=5, group="steady"),
    run("qwen3-8b-4l", 4096, 3, steps=5, group="steady"),
    # ZeRO-2's per-tensor gradient hook (planner/cost/deepspeed_step.h runs_deepspeed_gradient_hooks),
    # estimated from the Qwen3-0.6B "dev" records: stage 1 against stage 2 on this host and on
    # models with other tensor counts (Llama-3.2-1B 146, Gemma-3-1B 340), compared once.
    run("qwen3-0.6b", 4096, 1, steps=4, group="hooks"),
    run("qwen3-0.6b", 4096, 2, steps=4, group="hooks"),
    run("llama-3.2-1b", 4096, 1, steps=4, group="hooks"),
    run("llama-3.2-1b", 4096, 2, steps=4, group="hooks"),
    run("gemma-3-1b", 4096, 1, steps=4, group="hooks"),
    run("gemma-3-1b", 4096, 2, steps=4, group="hooks"),
]


# ---------------------------------------------------------------- readings
def rss_bytes():
    import psutil
    return psutil.Process().memory_info().rss


def rss_high_water_bytes():
    """VmHWM: the process's peak resident set so far (includes transients of initialisation)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def versions():
    import torch, transformers, deepspeed
    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "deepspeed": deepspeed.__version__, "cuda": torch.version.cuda,
            "nccl": ".".join(map(str, torch.cuda.nccl.version()))}


# ---------------------------------------------------------------- model and config
def ds_config(r):
    if r.get("config_file"):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(os.path.join(root, r["config_file"])) as f:
            return json.load(f)
    c = {"train_micro_batch_size_per_gpu": r["mb"], "gradient_accumulation_steps": 1,
         "steps_per_print": 10**9, "wall_clock_breakdown": False,
         "zero_allow_untested_optimizer": True, "zero_optimization": {"stage": r["stage"]}}
    if r["recipe"] == "bf16":
        c["bf16"] = {"enabled": True}
    else:
        # a low initial scale: random-init gradients must not overflow and skip the steps
        c["fp16"] = {"enabled": True, "initial_scale_power": 8}
    z = c["zero_optimization"]
    if r["offload_opt"]:
        z["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
        c["optimizer"] = {"type": "AdamW", "params": {"lr": 1e-5}}  # DeepSpeedCPUAdam
    if r["offload_param"]:
        z["offload_param"] = {"device": "cpu", "pin_memory": True}
    return c


def build_model(r):
    import torch, transformers
    if r.get("model_config_path"):  # a Hugging Face config.json (zplan --run --framework deepspeed)
        with open(r["model_config_path"]) as f:
            d = json.load(f)
    else:
        d = dict(matrix.MODELS[r["model"]])
    cfg = harness.config_from_dict(d)
    dtype = torch.bfloat16 if r["recipe"] == "bf16" else torch.float16
    with torch.device("cuda"):
        model = transformers.AutoModelForCausalLM.from_config(cfg, attn_implementation="sdpa", dtype=dtype)
    model.config.use_cache = False
    model.train()
    if r["ckpt"] == "full":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return d, model


# ---------------------------------------------------------------- the loops
def plain_loop(r, rec):
    import torch, deepspeed
    cfg_in, model = build_model(r)
    rec["config_input"] = cfg_in
    rec["num_params"] = sum(p.numel() for p in model.parameters())
    rec["experts_impl"] = getattr(model.config, "_experts_implementation", None)
    cfg = ds_config(r)
    opt = None if "optimizer" in cfg else torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    engine, _, _, _ = deepspeed.initialize(model=model, optimizer=opt, config=cfg)
    del model, opt
    torch.cuda.synchronize()
    rec["after_init"] = readings_with_outside()
    vocab = engine.module.config.vocab_size
    gen = torch.Generator(device="cuda").manual_seed(0)
    steps, out = [], None
    rec["steps"] = steps
    for step in range(1, r.get("steps", 3) + 1):
        ids = torch.randint(0, vocab, (r["mb"], r["seq"]), device="cuda", generator=gen)
        s = {"step": step, "start_allocated": torch.cuda.memory_allocated()}
        steps.append(s)
        ev0, ev1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        max_res = 0
        rec["phase"] = f"forward{step}"
        reset_peak()
        ev0.record()
        out = engine(input_ids=ids, labels=ids)  # the previous step's `out` lives until here
        m = mem(); max_res = max(max_res, m["peak_reserved"])
        s["forward_end"], s["forward_peak"] = m["allocated"], m["peak"]
        rec["phase"] = f"backward{step}"
        reset_peak()
        engine.backward(out.loss)
        m = mem(); max_res = max(max_res, m["peak_reserved"])
        s["after_backward"], s["backward_peak"] = m["allocated"], m["peak"]
        rec["phase"] = f"optimizer{step}"
        reset_peak()
        engine.step()
        ev1.record()
        m = mem(); max_res = max(max_res, m["peak_reserved"])
        s["after_optimizer"], s["optimizer_peak"] = m["allocated"], m["peak"]
        torch.cuda.synchronize()
        finish_step(r, s, ev0.elapsed_time(ev1) / 1000.0, max_res, float(out.loss.detach()))
    rec["skipped_steps"] = int(getattr(engine, "skipped_steps", 0))
    del out
    teardown(engine)


def trainer_loop(r, rec):
    import torch, transformers

    class Probe(transformers.TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            torch.cuda.synchronize()
            if not rec.get("after_init"):
                rec["after_init"] = readings_with_outside()
            self.s = {"step": state.global_step + 1, "start_allocated": torch.cuda.memory_allocated()}
            rec["steps"].append(self.s)
            reset_peak()
            self.t = time.time()

        def on_step_end(self, args, state, control, **kw):
            torch.cuda.synchronize()
            m = mem()
            s = self.s
            s["after_optimizer"] = m["allocated"]
            s["forward_peak"] = s["backward_peak"] = s["optimizer_peak"] = m["peak"]
            finish_step(r, s, time.time() - self.t, m["peak_reserved"], None)

    class Tokens(torch.utils.data.Dataset):
        def __init__(self, vocab):
            g = torch.Generator().manual_seed(0)
            n = max(8, r.get("steps", 3) * r["mb"] * r.get("ga", 1))
            self.x = torch.randint(0, vocab, (n, r["seq"]), generator=g)

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return {"input_ids": self.x[i], "labels": self.x[i]}

    cfg_in, model = build_model(r)
    rec["config_input"] = cfg_in
    rec["num_params"] = sum(p.numel() for p in model.parameters())
    rec["experts_impl"] = getattr(model.config, "_experts_implementation", None)
    rec["steps"] = []
    args = transformers.TrainingArguments(
        output_dir=os.path.join(OUT, "trainer_tmp"), per_device_train_batch_size=r["mb"],
        gradient_accumulation_steps=r.get("ga", 1), max_steps=r.get("steps", 3), learning_rate=1e-5,
        optim="adamw_torch_fused",
        bf16=r["recipe"] == "bf16", fp16=r["recipe"] == "fp16", deepspeed=ds_config(r),
        gradient_checkpointing=r["ckpt"] == "full",
        gradient_checkpointing_kwargs={"use_reentrant": False} if r["ckpt"] == "full" else None,
        report_to=[], save_strategy="no", logging_strategy="no", disable_tqdm=True,
        dataloader_num_workers=0, lr_scheduler_type="constant")
    trainer = transformers.Trainer(model=model, args=args, train_dataset=Tokens(model.config.vocab_size),
                                   callbacks=[Probe()])
    del model
    rec["phase"] = "train"
    trainer.train()


def finish_step(r, s, seconds, max_reserved, loss):
    import torch
    s["step_peak"] = max(s["forward_peak"], s["backward_peak"], s["optimizer_peak"])
    s["step_seconds"] = seconds
    s["max_reserved"] = max_reserved
    s["reserved_end"] = torch.cuda.memory_reserved()
    s["device_used"] = device_used()
    s["outside_allocator"] = s["device_used"] - s["reserved_end"]
    s["host_rss"] = rss_bytes()
    s["loss"] = loss


def teardown(engine):
    import torch
    try:
        engine.destroy()
    except Exception:  # noqa: BLE001 - older versions have no destroy()
        pass
    del engine
    gc.collect()
    torch.cuda.empty_cache()


# ---------------------------------------------------------------- one run -> one record
def measure(r, vers, capacity):
    import torch
    rec = {"id": r["id"], "phase": "start", "oom": False}
    gc.collect()
    torch.cuda.empty_cache()
    reset_peak()
    rec["baseline_allocated"] = torch.cuda.memory_allocated()
    # Resident set before the model exists: Python, torch, transformers, DeepSpeed, CUDA context.
    import transformers  # noqa: F401 - imported before the reading, as the loops import it
    torch.ones(1, device="cuda")
    rec["baseline_rss"] = rss_bytes()
    t = time.time()
    try:
        (trainer_loop if r["loop"] == "trainer" else plain_loop)(r, rec)
    except torch.OutOfMemoryError as e:
        rec["oom"] = True
        rec["oom_message"] = str(e)[:700]
    except Exception as e:  # noqa: BLE001 - one failure must not stop the sweep
        rec["error"] = error_text(e)
        rec["traceback"] = traceback_text()
    rec["wall_seconds"] = time.time() - t
    record = to_record(r, rec, vers, capacity)
    gc.collect()
    torch.cuda.empty_cache()
    return record


def to_record(r, rec, vers, capacity):
    steps = [s for s in rec.get("steps", []) if "step_peak" in s]
    gpu = {"capacity_bytes": capacity, "baseline_allocated_bytes": rec.get("baseline_allocated"),
           "after_init": rec.get("after_init"), "steps": rec.get("steps", [])}
    if steps:
        last = steps[-1]
        gpu["peak_bytes"] = max(s["step_peak"] for s in steps)
        gpu["reserved_bytes"] = max(s["max_reserved"] for s in steps)
        gpu["outside_allocator_bytes"] = max(s["outside_allocator"] for s in steps)
        gpu["fragmentation_bytes"] = gpu["reserved_bytes"] - gpu["peak_bytes"]
        if r["loop"] == "plain":
            gpu["phases"] = breakdown_phases(rec, last)
    host = {"peak_bytes": max([s["host_rss"] for s in steps] or [0]),
            "baseline_bytes": rec.get("baseline_rss"), "high_water_bytes": rss_high_water_bytes(),
            "note": "peak_bytes: largest resident set at the end of a step; baseline_bytes: before the model "
                    "was built; high_water_bytes: the process's VmHWM (initialisation transients included)"}
    seconds = statistics.median(s["step_seconds"] for s in steps[1:]) if len(steps) > 1 else None
    loop_text = {
        "plain": "engine = deepspeed.initialize(model, optimizer, config); out = engine(input_ids=x, labels=x); "
                 "engine.backward(out.loss); engine.step(); `out` of step k lives until step k+1's forward returns",
        "trainer": "transformers.Trainer with TrainingArguments(deepspeed=config); the loop keeps only the loss"}
    cfg = ds_config(r)
    scenario = {
        "gpus": str(r.get("world", 1)) + "x" + harness.gpu_profile(vers["gpu"]),
        "framework": "deepspeed", "profile": "hf", "model_name": r["model"],
        "model_config": rec.get("config_input"), "num_parameters": rec.get("num_params"),
        "seq": r["seq"], "attention": "sdpa", "use_cache": False,
        "experts_implementation": rec.get("experts_impl") or "", "allocator_settings": "default",
        "loop": loop_text[r["loop"]], "drop_logits": r["loop"] == "trainer",
        "optimizer": "DeepSpeedCPUAdam (config 'optimizer' AdamW)" if "optimizer" in cfg
                     else "torch.optim.AdamW(lr=1e-5, fused=True)",
        "deepspeed_config": cfg, "measurement_set": r["group"]}
    if r.get("config_file"):
        scenario["deepspeed_config_file"] = r["config_file"]
    strategy = {"zero_stage": r["stage"], "offload_optimizer": r["offload_opt"],
                "offload_params": r["offload_param"],
                "checkpointed_layers": matrix.MODELS[r["model"]].get("num_hidden_layers") if r["ckpt"] == "full" else 0,
                "cpu_checkpointing": False, "sp_degree": 1, "micro_batch": r["mb"],
                "grad_accumulation": r.get("ga", 1), "precision": r["recipe"]}
    out = {"profile": "hf", "world_size": r.get("world", 1), "gpu": vers["gpu"], "host": harness.host_description(),
           "versions": {k: v for k, v in vers.items() if k != "gpu"},
           "command": r.get("command") or "python3 tools/hf_reference/measure_deepspeed.py --filter '^%s$'" % re.escape(r["id"]),
           "scenario": scenario, "strategy": strategy, "estimate": None,
           "measurement": {"memory": {"gpu": gpu, "host": host},
                           "time": {"step_seconds": seconds,
                                    "tokens_per_second": r["mb"] * r["seq"] / seconds if seconds else None,
                                    "note": "median of steps 2-%d" % len(steps)}},
           "oom": rec["oom"]}
    for k in ("oom_message", "error", "traceback", "skipped_steps", "phase", "wall_seconds"):
        if rec.get(k) is not None:
            out.setdefault("run_notes", {})[k] = rec[k]
    return out


def save(record, run_id):
    d = os.path.join(OUT, "records")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, run_id + ".json"), "w") as f:
        json.dump(record, f, indent=1)
    g = record["measurement"]["memory"]["gpu"]
    gib = float(1 << 30)
    if "peak_bytes" in g:
        log(f"  peak {g['peak_bytes'] / gib:.3f} GiB reserved {g['reserved_bytes'] / gib:.3f} GiB "
            f"outside {g['outside_allocator_bytes'] / 2**20:.0f} MiB host {record['measurement']['memory']['host']['peak_bytes'] / gib:.2f} GiB "
            f"step {record['measurement']['time']['step_seconds']}")
    else:
        log(f"  no step completed: {record.get('run_notes')}")


def init_dist(port):
    import deepspeed
    os.environ.update({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    deepspeed.init_distributed(dist_backend="nccl")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--filter", default="")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--deadline-s", type=float, default=1e9)
    ap.add_argument("--port", type=int, default=29600)
    ap.add_argument("--child", action="store_true", help="measure the one --filter run in this process")
    ap.add_argument("--skip-measured", default="", help="skip runs whose record is in this folder")
    a = ap.parse_args()
    runs = [r for r in RUNS if re.search(a.filter, r["id"])]
    if a.skip_measured:
        done = {f[:-5] for _, _, files in os.walk(a.skip_measured) for f in files if f.endswith(".json")}
        runs = [r for r in runs if r["id"] not in done]
    if a.list:
        for r in runs:
            print(r["id"], r["group"])
        return
    if len(runs) == 1 and a.child:
        import torch
        torch.cuda.init()
        capacity = torch.cuda.mem_get_info()[1]
        init_dist(a.port)
        vers = {**versions(), "gpu": torch.cuda.get_device_name()}
        save(measure(runs[0], vers, capacity), runs[0]["id"])
        return
    # Every run in a process of its own, and this parent never touches the GPU: a ZeRO-3 engine
    # leaves memory behind after destroy(), and memory outside the allocator is read device-wide.
    for i, r in enumerate(runs):
        if time.time() - T0 > a.deadline_s:
            log(f"deadline: skipping {r['id']}")
            continue
        log(f"run {r['id']}")
        left = max(30, a.deadline_s - (time.time() - T0) + 60)
        try:
            p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--filter",
                                "^%s$" % re.escape(r["id"]), "--port", str(a.port + i)], timeout=left)
            log(f"  exit {p.returncode}")
        except subprocess.TimeoutExpired:
            log("  timed out")
        # one archive, rewritten after every run: a cut-off call still brings back what ran
        subprocess.run(["tar", "-cf", os.path.join(OUT, "records.tar"), "-C", OUT, "records"], check=False)


if __name__ == "__main__":
    main()
