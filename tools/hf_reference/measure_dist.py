"""Ground-truth GPU memory of Hugging Face transformers training under FSDP2 and DDP (2+ GPUs).

The multi-GPU sibling of measure_hf.py: same model config dicts (matrix.py), same 3-step
loop (out = model(input_ids=x, labels=x); out.loss.backward(); opt.step();
opt.zero_grad(set_to_none=True)) and the same per-phase allocator readings, but each
rank trains its own micro-batch under
  - FSDP2: fully_shard(layer, mp_policy=bf16 params / fp32 reduce, reshard_after_forward=R)
    on every decoder layer, then fully_shard(model) at the root; fp32 model built on cuda;
    AdamW(fused=True) on the DTensor params (foreach if fused rejects DTensors);
  - DDP: fp32 params, autocast bf16 around forward+loss, DistributedDataParallel with the
    default buckets (optionally gradient_as_bucket_view=True), fused AdamW.
Runs go one after another in one process group; between runs everything is freed
(del, gc, empty_cache, reset_peak_memory_stats, barrier). Rank 0 appends one JSON line
per run to $OUT/dist_runs.jsonl (flushed): every number is the max over ranks, and
`per_rank` keeps each rank's own readings. Runs flagged `history` add one extra step
recorded with torch.cuda.memory._record_memory_history and keep only a summary (the 30
largest distinct allocation sizes, their counts, phases, streams and Python call sites).

Usage (GPU machine):
  torchrun --standalone --nproc_per_node 2 tools/hf_reference/measure_dist.py --deadline-s 370
  python3 tools/hf_reference/measure_dist.py --list        # ids and time estimate, no GPU
  torchrun --nproc_per_node 2 tools/hf_reference/measure_dist.py --dry-run   # CPU + gloo, tiny
"""
import argparse, collections, contextlib, datetime, gc, inspect, json, os, re, statistics, sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matrix  # noqa: E402
import harness  # noqa: E402 - log, readings, model building and record fields shared by every harness
from harness import (T0, allocated, allocator_stats, decoder_layers, device_used, error_text,  # noqa: E402
                     make_config, mem, oom_tried, readings_with_outside, reset_peak, short, sync,
                     traceback_text)

RANK = int(os.environ.get("RANK", "0"))
WORLD = int(os.environ.get("WORLD_SIZE", "1"))
LOCAL_RANK = int(os.environ.get("LOCAL_RANK", "0"))


def dry():
    """--dry-run: CPU, gloo, tiny configs, allocator readings are 0 (harness.set_dry_run)."""
    return harness.DRY


def log(msg, all_ranks=False):
    if RANK != 0 and not all_ranks:
        return
    harness.log(msg, tag=f" r{RANK}")


# ---------------------------------------------------------------- the run list
def build_holdout_runs():
    """Held-out set (--set holdout): other models, lengths and world sizes than build_runs(),
    measured once to test the planner on what it was not built against."""
    runs = []
    for fw, reshard in (("fsdp2", True), ("fsdp2", False), ("ddp", None)):
        runs.append(dict(framework=fw, reshard=reshard, gabv=False, model="qwen3-1.7b", seq=8192,
                         mb=1, ckpt="full", recipe="amp-bf16"))
    runs.append(dict(framework="fsdp2", reshard=True, gabv=False, model="gemma-3-1b", seq=4096,
                     mb=2, ckpt="off", recipe="amp-bf16"))
    runs.append(dict(framework="fsdp2", reshard=True, gabv=False, model="qwen3-30b-a3b-2l", seq=4096,
                     mb=1, ckpt="full", recipe="amp-bf16"))
    runs.append(dict(framework="ddp", reshard=None, gabv=False, model="llama-3.2-1b", seq=8192,
                     mb=1, ckpt="full", recipe="amp-bf16"))
    for r in runs:
        r["history"] = False
    return runs


def build_moe_history_runs():
    """--set moe-history: the FSDP2 + Qwen3-MoE run whose held-out error was largest, with the
    allocation history recorded, to find what the planner misses."""
    return [dict(framework="fsdp2", reshard=True, gabv=False, model="qwen3-30b-a3b-2l", seq=4096,
                 mb=1, ckpt=c, recipe="amp-bf16", history=True) for c in ("full", "off")]


def build_runs():
    """FSDP2 (R=True, R=False) and DDP for both models, seq 4096, mb 1/2, ckpt off/full,
    plus DDP with gradient_as_bucket_view at mb 1 ckpt off. The allocation history is
    taken once per framework (qwen3-0.6b, mb 1, ckpt off; FSDP2 with R=True)."""
    runs = []
    for model in ("qwen3-0.6b", "llama-3.2-1b"):
        for mb in (1, 2):
            for ckpt in ("off", "full"):
                for fw, reshard, gabv in (("fsdp2", True, False), ("fsdp2", False, False),
                                          ("ddp", None, False)):
                    runs.append(dict(framework=fw, reshard=reshard, gabv=gabv, model=model,
                                     seq=4096, mb=mb, ckpt=ckpt, recipe="amp-bf16"))
        runs.append(dict(framework="ddp", reshard=None, gabv=True, model=model, seq=4096, mb=1,
                         ckpt="off", recipe="amp-bf16"))
    for r in runs:
        r["history"] = (r["model"] == "qwen3-0.6b" and r["mb"] == 1 and r["ckpt"] == "off"
                        and not r["gabv"] and r["reshard"] in (True, None))
    return runs


def run_id(r):
    fw = r["framework"]
    if fw == "fsdp2":
        fw += "-reshard" if r["reshard"] else "-noreshard"
    s = f"{fw}_{r['model']}_{r['recipe']}_{r['seq']}_mb{r['mb']}_ckpt-{r['ckpt']}"
    return s + ("_gabv" if r["gabv"] else "")


def estimate_seconds(r):
    """Rough wall time of one run on an H100 pair: build + wrap + 3 steps + cleanup."""
    cfg = matrix.MODELS[r["model"]]
    h, layers, ffn = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["intermediate_size"]
    params = layers * (4 * h * h + 3 * h * ffn) + cfg["vocab_size"] * h
    tokens = r["seq"] * r["mb"]
    flops = 6 * params * tokens + layers * 6 * tokens * r["seq"] * h
    if r["ckpt"] != "off":
        flops *= 1.33
    steps = 3 + (1 if r["history"] else 0)
    return 2.5 + params / 1.5e9 + steps * (flops / 300e12 + 0.1) + (3.0 if r["history"] else 0)


# ---------------------------------------------------------------- devices
def dev():
    import torch
    return torch.device("cpu") if dry() else torch.device("cuda", LOCAL_RANK)


def on_device():
    """Context that builds modules directly on this rank's GPU (CPU in a dry run, where
    torch may predate torch.device as a context manager)."""
    return contextlib.nullcontext() if dry() else dev()


# ---------------------------------------------------------------- models
class TinyLM:
    """Dry-run stand-in when transformers is missing: embedding, a few MLP layers under
    model.layers, tied lm_head, HF-style (loss, logits) output. Control flow only."""

    @staticmethod
    def make(vocab=512, h=64, n_layers=3):
        import torch
        from torch import nn

        class Out:
            def __init__(self, loss, logits):
                self.loss, self.logits = loss, logits

        class Layer(nn.Module):
            def __init__(self):
                super().__init__()
                self.up, self.down = nn.Linear(h, 4 * h), nn.Linear(4 * h, h)

            def forward(self, x):
                return x + self.down(torch.relu(self.up(x)))

        class Inner(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed_tokens = nn.Embedding(vocab, h)
                self.layers = nn.ModuleList(Layer() for _ in range(n_layers))

        class LM(nn.Module):
            def __init__(self):
                super().__init__()
                self.model = Inner()
                self.lm_head = nn.Linear(h, vocab, bias=False)
                self.lm_head.weight = self.model.embed_tokens.weight

            def forward(self, input_ids, labels):
                x = self.model.embed_tokens(input_ids)
                for layer in self.model.layers:
                    x = layer(x)
                logits = self.lm_head(x)
                loss = nn.functional.cross_entropy(logits[:, :-1].float().flatten(0, 1),
                                                   labels[:, 1:].flatten())
                return Out(loss, logits)

        return LM()


def build_hf_model(r, rec):
    """fp32 model on this rank's device, use_cache off, train mode, checkpointing as asked."""
    import torch
    torch.manual_seed(0)  # same init on every rank (DDP broadcasts rank 0's anyway)
    try:
        import transformers
    except ImportError:
        if not dry():
            raise
        rec["config_input"] = {"tiny_stand_in": True}
        with on_device():
            return TinyLM.make(), None
    cfg_in, cfg = make_config(r, tiny=dry())
    rec["config_input"] = cfg_in
    with on_device():
        model = transformers.AutoModelForCausalLM.from_config(
            cfg, dtype=torch.float32, attn_implementation="sdpa")
    model.config.use_cache = False
    model.train()
    if r["ckpt"] == "full":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    rec["config"] = model.config.to_dict()
    rec["attn_implementation"] = model.config._attn_implementation
    return model, cfg


# ---------------------------------------------------------------- wrapping
STATE = {"mesh": None, "fsdp_optimizer": None, "fsdp_fused_error": None}


def fsdp_mp_policy():
    import torch
    from torch.distributed.fsdp import MixedPrecisionPolicy
    return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)


def fsdp_wrap(model, reshard):
    from torch.distributed.fsdp import fully_shard
    mp = fsdp_mp_policy()
    for layer in decoder_layers(model):
        fully_shard(layer, mesh=STATE["mesh"], mp_policy=mp, reshard_after_forward=reshard)
    fully_shard(model, mesh=STATE["mesh"], mp_policy=mp)  # root: reshard_after_forward default
    return model


def make_optimizer(params, kind):
    import torch
    if dry():
        return torch.optim.AdamW(params, lr=1e-5, foreach=False)
    if kind == "fused":
        return torch.optim.AdamW(params, lr=1e-5, fused=True)
    return torch.optim.AdamW(params, lr=1e-5, foreach=True)


def probe_fsdp_fused():
    """Does fused AdamW accept FSDP2's DTensor params? One tiny sharded step decides for
    every FSDP2 run, so the measured runs never switch optimizer mid-way."""
    import torch
    from torch import nn
    try:
        from torch.distributed.fsdp import fully_shard
        with on_device():
            m = nn.Sequential(nn.Linear(64, 64), nn.Linear(64, 64))
        for sub in m:
            fully_shard(sub, mesh=STATE["mesh"], mp_policy=fsdp_mp_policy())
        fully_shard(m, mesh=STATE["mesh"], mp_policy=fsdp_mp_policy())
        opt = make_optimizer(m.parameters(), "fused")
        m(torch.randn(4, 64, device=dev())).sum().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        STATE["fsdp_optimizer"] = "fused" if not dry() else "plain (dry-run)"
    except Exception as e:  # noqa: BLE001 - record and fall back
        STATE["fsdp_optimizer"] = "foreach"
        STATE["fsdp_fused_error"] = f"{type(e).__name__}: {e}"[:600]
    import torch.distributed as dist
    flag = torch.tensor([1 if STATE["fsdp_optimizer"] == "foreach" else 0], device=dev())
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)  # every rank must use the same optimizer
    if int(flag.item()) and STATE["fsdp_optimizer"] != "foreach":
        STATE["fsdp_optimizer"] = "foreach"
    gc.collect()


# ---------------------------------------------------------------- allocation history
def frame_site(frames, depth=4):
    """Innermost Python frames, skipping nn.Module call plumbing."""
    keep = []
    for f in frames or []:
        fn = f.get("filename", "")
        if fn.endswith(("torch/nn/modules/module.py", "_contextlib.py", "torch/utils/hooks.py")):
            continue
        keep.append(f"{os.path.basename(fn)}:{f.get('name')}:{f.get('line')}")
        if len(keep) == depth:
            break
    return " < ".join(keep) if keep else "<no python frame: autograd engine / C++>"


def device_trace():
    """This process's device's allocator trace (device_traces is indexed by device)."""
    import torch
    traces = torch.cuda.memory._snapshot()["device_traces"]
    i = torch.cuda.current_device()
    return traces[i] if i < len(traces) else traces[0]


def trace_len():
    return len(device_trace())


def summarize_history(traces, bounds, top=30):
    by_size, segs = {}, collections.Counter()
    n_alloc = 0
    for i, e in enumerate(traces):
        act = e.get("action")
        if act == "segment_alloc":
            segs[e["size"]] += 1
        if act != "alloc":
            continue
        n_alloc += 1
        phase = "forward" if i < bounds[0] else "backward" if i < bounds[1] else "optimizer"
        g = by_size.setdefault(e["size"], {"count": 0, "phases": collections.Counter(),
                                           "streams": collections.Counter(),
                                           "sites": collections.Counter()})
        g["count"] += 1
        g["phases"][phase] += 1
        g["streams"][str(e.get("stream", 0))] += 1
        g["sites"][frame_site(e.get("frames"))] += 1
    sizes = []
    for size in sorted(by_size, reverse=True)[:top]:
        g = by_size[size]
        sizes.append({"size_bytes": size, "count": g["count"], "phases": dict(g["phases"]),
                      "streams": dict(g["streams"]),
                      "top_sites": [{"site": s, "count": c} for s, c in g["sites"].most_common(3)]})
    return {"num_trace_entries": len(traces), "num_allocs": n_alloc,
            "num_distinct_sizes": len(by_size), "largest_sizes": sizes,
            "segment_allocs": [{"size_bytes": s, "count": c}
                               for s, c in sorted(segs.items(), reverse=True)[:10]]}


# ---------------------------------------------------------------- one run
def one_step(r, model, opt, ids, box, s, mark=None):
    """forward+loss, backward, optimizer step + zero_grad, reading the allocator between
    phases. box["out"] holds the previous step's output, so (as in users' loops) it lives
    until this step's forward returns and is replaced there."""
    import torch
    autocast = (torch.autocast(dev().type, dtype=torch.bfloat16) if r["framework"] == "ddp"
                else contextlib.nullcontext())
    max_res = 0
    s["phase"] = "forward"
    reset_peak()
    with autocast:
        box["out"] = model(input_ids=ids, labels=ids)
    out = box["out"]
    m = mem(); max_res = max(max_res, m["peak_reserved"])
    s["forward_end"], s["forward_peak"] = m["allocated"], m["peak"]
    if mark:
        mark()
    s["phase"] = "backward"
    reset_peak()
    out.loss.backward()
    m = mem(); max_res = max(max_res, m["peak_reserved"])
    s["after_backward"], s["backward_peak"] = m["allocated"], m["peak"]
    if mark:
        mark()
    s["phase"] = "optimizer"
    reset_peak()
    opt.step()
    opt.zero_grad(set_to_none=True)
    m = mem(); max_res = max(max_res, m["peak_reserved"])
    s["after_optimizer"], s["optimizer_peak"] = m["allocated"], m["peak"]
    s["step_peak"] = max(s["forward_peak"], s["backward_peak"], s["optimizer_peak"])
    s["max_reserved"] = max_res
    del s["phase"]


def execute(r, rec, st):
    import torch
    st["phase"] = "build"
    model, _ = build_hf_model(r, rec)
    layers = decoder_layers(model)
    vocab = model.config.vocab_size if hasattr(model, "config") else 512
    rec["num_layers"] = len(layers)
    rec["checkpointed_layers"] = sum(bool(getattr(l, "gradient_checkpointing", False)) for l in layers)
    rec["num_params"] = sum(p.numel() for p in model.parameters())
    sync()
    rec["after_build"] = {**mem(), "device_used": device_used()}
    st["phase"] = "wrap"
    if r["framework"] == "fsdp2":
        model = fsdp_wrap(model, r["reshard"])
        rec["optimizer"] = STATE["fsdp_optimizer"]
        opt = make_optimizer(model.parameters(), "fused" if STATE["fsdp_optimizer"] == "fused" else "foreach")
        rec["local_param_elements"] = sum(p.to_local().numel() for p in model.parameters())
    else:
        from torch.nn.parallel import DistributedDataParallel as DDP
        model = DDP(model, device_ids=None if dry() else [LOCAL_RANK], gradient_as_bucket_view=r["gabv"])
        rec["optimizer"] = "fused" if not dry() else "plain (dry-run)"
        opt = make_optimizer(model.parameters(), "fused")
        rec["local_param_elements"] = rec["num_params"]
    sync()
    rec["after_init"] = readings_with_outside()
    gen = torch.Generator(device=dev()).manual_seed(1000 + RANK)  # each rank its own data
    steps, box = [], {"out": None}
    for step in range(1, 1 + harness.STEPS["count"]):
        ids = torch.randint(0, vocab, (r["mb"], r["seq"] if not dry() else 32), device=dev(), generator=gen)
        s = {"step": step, "start_allocated": allocated()}
        steps.append(s)
        rec["steps"] = steps
        st["phase"] = f"step{step}"
        ev = [torch.cuda.Event(enable_timing=True) for _ in range(2)] if not dry() else None
        t = time.time()
        if ev:
            ev[0].record()
        one_step(r, model, opt, ids, box, s)
        if ev:
            ev[1].record()
        sync()
        s["step_seconds"] = ev[0].elapsed_time(ev[1]) / 1000.0 if ev else time.time() - t
        s["reserved_end"] = mem()["reserved"]
        s["device_used"] = device_used()
        s["outside_allocator"] = s["device_used"] - s["reserved_end"]
        lg = box["out"].logits
        s["loss"] = float(box["out"].loss)
        s["out_logits_bytes"] = (lg.untyped_storage().nbytes() if hasattr(lg, "untyped_storage")
                                 else lg.numel() * lg.element_size())
        del lg
    rec["peak_bytes"] = max(s["step_peak"] for s in steps)
    rec["reserved_bytes"] = max(s["max_reserved"] for s in steps)
    rec["step_seconds"] = statistics.median(sorted(s["step_seconds"] for s in steps[1:]))
    rec["tokens_per_second"] = WORLD * r["mb"] * r["seq"] / rec["step_seconds"]  # all ranks
    if not dry():
        rec["allocator"] = allocator_stats()
    if r["history"] and not dry():
        st["phase"] = "history"
        ids = torch.randint(0, vocab, (r["mb"], r["seq"]), device=dev(), generator=gen)
        try:
            try:
                torch.cuda.memory._record_memory_history(enabled="all", stacks="python",
                                                         max_entries=100000)
            except TypeError:  # older keyword set
                torch.cuda.memory._record_memory_history(max_entries=100000)
            try:
                bounds = []
                s = {"step": 4}
                one_step(r, model, opt, ids, box, s, mark=lambda: bounds.append(trace_len()))
                sync()
                traces = device_trace()
            finally:
                torch.cuda.memory._record_memory_history(enabled=None)
            rec["alloc_history"] = summarize_history(traces, bounds)
            rec["alloc_history"]["step"] = s
            del traces
        except getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError):
            raise
        except Exception as e:  # noqa: BLE001 - the 3 measured steps stay valid
            rec["history_error"] = error_text(e)
            rec["history_traceback"] = traceback_text()
    box.clear()


def run_one(r):
    import torch
    import torch.distributed as dist
    rec = {"id": run_id(r), "run": r, "oom": False, "rank": RANK}
    st = {"phase": "start"}
    gc.collect()
    if not dry():
        torch.cuda.empty_cache()
    reset_peak()
    rec["baseline_allocated"] = allocated()
    rec["baseline_device_used"] = device_used()
    t = time.time()
    try:
        execute(r, rec, st)
    except getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError) as e:
        rec["oom"] = st["phase"] != "history"
        rec["history_oom"] = st["phase"] == "history"
        rec["oom_phase"] = st["phase"]
        rec["oom_message"] = str(e)[:700]
        rec["oom_allocated"] = allocated()
        rec["oom_reserved"] = mem()["reserved"]
        rec["oom_tried"] = oom_tried(e)
    except Exception as e:  # noqa: BLE001 - one failure must not stop the sweep
        rec["error"] = error_text(e)
        rec["error_phase"] = st["phase"]
        rec["traceback"] = traceback_text()
    if rec.get("error") or rec.get("oom_phase"):
        log(f"{rec['id']}: {rec.get('error') or rec.get('oom_message')}"[:600], all_ranks=True)
    rec["wall_seconds"] = time.time() - t
    gc.collect()
    if not dry():
        torch.cuda.empty_cache()
    reset_peak()
    dist.barrier()
    gathered = [None] * WORLD
    dist.all_gather_object(gathered, rec)
    return merge_ranks(gathered)


# ---------------------------------------------------------------- rank merging
def deep_max(vals):
    """Elementwise max over ranks of every number (bools: any); other values from rank 0."""
    v0 = vals[0]
    if isinstance(v0, dict):
        keys = list(v0) + [k for v in vals[1:] if isinstance(v, dict) for k in v if k not in v0]
        return {k: deep_max([v.get(k) for v in vals if isinstance(v, dict) and k in v]) for k in keys}
    if isinstance(v0, list) and all(isinstance(v, list) and len(v) == len(v0) for v in vals):
        return [deep_max([v[i] for v in vals]) for i in range(len(v0))]
    if isinstance(v0, (int, float)) and all(isinstance(v, (int, float)) and v is not None for v in vals):
        return max(vals)
    return v0


PER_RANK_DROP = ("config_input", "config", "run", "alloc_history", "traceback")


def merge_ranks(recs):
    recs = sorted(recs, key=lambda x: x["rank"])
    merged = deep_max([{k: v for k, v in x.items() if k not in ("alloc_history", "rank")} for x in recs])
    merged["oom"] = any(x.get("oom") for x in recs)
    merged["per_rank"] = [{k: v for k, v in x.items() if k not in PER_RANK_DROP} for x in recs]
    hist = [x["alloc_history"] for x in recs if "alloc_history" in x]
    if hist:
        merged["alloc_history"] = {"per_rank": hist}
    return merged


# ---------------------------------------------------------------- setup and main
def probe(out_dir):
    import torch, torch.distributed as dist
    lines = [f"torch {torch.__version__} cuda {torch.version.cuda}"]
    info = {"torch": torch.__version__, "cuda": torch.version.cuda, "world_size": WORLD}
    try:
        import transformers
        lines.append(f"transformers {transformers.__version__}")
        info["transformers"] = transformers.__version__
    except ImportError:
        info["transformers"] = None
    if not dry():
        info["gpu"] = torch.cuda.get_device_name()
        info["gpu_total_bytes"] = torch.cuda.mem_get_info()[1]
        lines.append(f"device {info['gpu']} total {info['gpu_total_bytes']} x{WORLD}")
    else:
        info["gpu"] = "cpu (dry-run)"
    info["nccl"] = ".".join(map(str, torch.cuda.nccl.version())) if not dry() else None
    env = {k: os.environ.get(k) for k in ("NCCL_NVLS_ENABLE", "TORCH_SYMM_MEM_DISABLE_MULTICAST",
                                          "NVSHMEM_DISABLE_NVLS", "PYTORCH_CUDA_ALLOC_CONF",
                                          "TORCH_NCCL_AVOID_RECORD_STREAMS")}
    lines.append(f"env {env}")
    info["env"] = env
    try:
        from torch.distributed.fsdp import fully_shard
        sig = inspect.signature(fully_shard)
        lines.append(f"fully_shard{sig}")
        info["fully_shard_reshard_after_forward_default"] = str(
            sig.parameters["reshard_after_forward"].default)
    except Exception as e:  # noqa: BLE001
        lines.append(f"fully_shard: {e}")
    from torch.nn.parallel import DistributedDataParallel as DDP
    lines.append(f"DistributedDataParallel{inspect.signature(DDP.__init__)}")
    info["ddp_first_bucket_bytes"] = getattr(dist, "_DEFAULT_FIRST_BUCKET_BYTES", None)
    info["fsdp_optimizer"] = STATE["fsdp_optimizer"]
    info["fsdp_fused_error"] = STATE["fsdp_fused_error"]
    lines.append(f"fsdp optimizer {STATE['fsdp_optimizer']} ({STATE['fsdp_fused_error']})")
    with open(os.path.join(out_dir, "probe.txt"), "w") as f:
        f.write("\n\n".join(lines) + "\n")
    log(" | ".join(lines[:3]))
    return info


def init_dist():
    import torch, torch.distributed as dist
    if dry():
        dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=120))
        return {}
    torch.cuda.set_device(LOCAL_RANK)
    pre = {"outside_before_nccl": device_used() - torch.cuda.memory_reserved()}
    # A hung collective (one rank failed mid-run) aborts after this instead of eating the call.
    dist.init_process_group("nccl", device_id=torch.device("cuda", LOCAL_RANK),
                            timeout=datetime.timedelta(seconds=150))
    from torch.distributed.device_mesh import init_device_mesh
    STATE["mesh"] = init_device_mesh("cuda", (WORLD,))
    x = torch.ones(1 << 20, device=dev())
    dist.all_reduce(x)
    # cuBLAS workspaces (one per stream) allocated up front so no run pays them inside step 1
    a = torch.randn(256, 256, device=dev())
    (a @ a).sum().item()
    (a.bfloat16() @ a.bfloat16()).sum().item()
    del x, a
    torch.cuda.synchronize()
    pre["outside_after_nccl_warmup"] = device_used() - torch.cuda.memory_reserved()
    pre["allocated_after_warmup"] = torch.cuda.memory_allocated()
    return pre


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--filter", default=None, help="regex over run ids")
    ap.add_argument("--deadline-s", type=float, default=1e9, help="skip runs that would end after this")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--dry-run", action="store_true", help="CPU + gloo, tiny configs")
    ap.add_argument("--set", default="main", choices=("main", "holdout", "moe-history"), help="which run list")
    ap.add_argument("--steps", type=int, default=4, help=harness.STEPS_HELP)
    a = ap.parse_args()
    harness.set_dry_run(a.dry_run)
    harness.set_steps(a.steps)
    runs = {"main": build_runs, "holdout": build_holdout_runs, "moe-history": build_moe_history_runs}[a.set]()
    if a.filter:
        runs = [r for r in runs if re.search(a.filter, run_id(r))]
    est = sum(estimate_seconds(r) for r in runs)
    if a.list:
        for r in runs:
            print(f"{run_id(r):64s} history {r['history']!s:5} ~{estimate_seconds(r):.1f}s")
        print(f"{len(runs)} runs, estimated {est:.0f} s (+ ~40 s imports and NCCL start)")
        return
    import torch, torch.distributed as dist
    pre = init_dist()
    out_dir = harness.out_dir()
    if RANK == 0:
        os.makedirs(out_dir, exist_ok=True)
        harness.open_log(out_dir)
    log(f"{len(runs)} runs, estimated {est:.0f} s on 2 H100 (plus imports); world {WORLD}")
    probe_fsdp_fused()
    versions = probe(out_dir) if RANK == 0 else None
    pres = [None] * WORLD
    dist.all_gather_object(pres, pre)
    f = open(os.path.join(out_dir, "dist_runs.jsonl"), "a") if RANK == 0 else None
    for i, r in enumerate(runs):
        e = estimate_seconds(r)
        skip = torch.tensor([1 if time.time() - T0 + e > a.deadline_s else 0], device=dev())
        dist.all_reduce(skip, op=dist.ReduceOp.MAX)  # every rank skips the same runs
        if int(skip.item()):
            log(f"skip {run_id(r)} (deadline, ~{e:.0f}s)")
            continue
        rec = run_one(r)
        if RANK == 0:
            rec["versions"] = versions
            rec["process"] = {"per_rank": pres}
            rec["estimate_seconds"] = e
            f.write(json.dumps(rec, default=str) + "\n")
            f.flush()
            log(f"{i + 1}/{len(runs)} {rec['id']} ({rec['wall_seconds']:.1f}s, est {e:.1f}s): {short(rec)}")
    if f:
        f.close()
    log("done")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
