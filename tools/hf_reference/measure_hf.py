"""Ground-truth GPU memory of Hugging Face transformers training, for zplan's --profile hf.

Builds each model of matrix.py from its config dict with random weights directly on
the GPU, trains 3 optimizer steps the way users write the loop (out = model(ids,
labels=ids); out.loss.backward(); opt.step(); opt.zero_grad()), and records the CUDA
caching allocator's statistics per phase, plus (once per group) what autograd saves
for backward per decoder layer. One JSON line per run is appended to
$OUT/hf_runs.jsonl as soon as the run ends, so a cut-off call loses nothing.

Usage (on the GPU machine):
  python3 tools/hf_reference/measure_hf.py --part 1 --smoke --deadline-s 500
  python3 tools/hf_reference/measure_hf.py --filter 'qwen3-0.6b_bf16_4096_mb1_ckpt-off$'
  python3 tools/hf_reference/measure_hf.py --list          # ids and time estimate, no GPU
"""
import argparse, contextlib, gc, inspect, json, os, re, statistics, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import matrix  # noqa: E402
import harness  # noqa: E402 - log, readings, model building and record fields shared by every harness
from harness import (T0, Bf16MasterOptimizer, allocator_stats, decoder_layers, device_used,  # noqa: E402
                     error_text, log, make_config, mem, oom_tried, readings_with_outside, reset_peak,
                     short, traceback_text)


def estimate_seconds(r):
    """Rough wall time of one run on an H100: build + 3 steps (+1 analysis pass)."""
    cfg = matrix.MODELS[r["model"]]
    h = cfg.get("hidden_size", cfg.get("n_embd"))
    layers = cfg.get("num_hidden_layers", cfg.get("n_layer"))
    ffn = cfg.get("intermediate_size", 4 * h)
    if "num_experts" in cfg:
        ffn = cfg["moe_intermediate_size"] * cfg["num_experts_per_tok"]
    active = layers * (4 * h * h + 3 * h * ffn) + cfg["vocab_size"] * h
    tokens = r["seq"] * r["mb"]
    flops = 6 * active * tokens + layers * 6 * tokens * r["seq"] * h  # + causal attention
    if r["ckpt"] != "off":
        flops *= 1.33
    rate = 40e12 if r["recipe"] == "fp32" else 300e12
    steps = 4 if r["analyze"] else 3
    total_params = active + (layers * 3 * h * cfg["moe_intermediate_size"] * cfg["num_experts"]
                             if "num_experts" in cfg else 0)
    build = 1.5 + total_params / 1.5e9
    moe_loop = 2.0 * layers if "num_experts" in cfg else 0.0
    return build + steps * (flops / rate + 0.05 + moe_loop * 0.1)


# ---------------------------------------------------------------- model building
def build_model(r, cfg):
    import torch, transformers
    dtype = torch.float32 if r["recipe"] in ("amp-bf16", "fp32") else torch.bfloat16
    kw = {"attn_implementation": r["attn"], "dtype": dtype}
    if r["experts_impl"]:
        kw["experts_implementation"] = r["experts_impl"]
    with torch.device("cuda"):
        try:
            model = transformers.AutoModelForCausalLM.from_config(cfg, **kw)
        except TypeError as e:
            # older keyword spellings: torch_dtype, no experts_implementation
            if "experts_implementation" in str(e):
                kw.pop("experts_implementation")
            if "dtype" in str(e):
                kw["torch_dtype"] = kw.pop("dtype")
            model = transformers.AutoModelForCausalLM.from_config(cfg, **kw)
    if r["experts_impl"] and getattr(model.config, "_experts_implementation", None) != r["experts_impl"]:
        model.config._experts_implementation = r["experts_impl"]
    model.config.use_cache = r["use_cache"]
    model.train()
    layers = decoder_layers(model)
    if r["ckpt"] != "off":
        kw = {"offload": True} if r.get("ckpt_offload") else {}
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False}, **kw)
        if r["ckpt"] != "full":
            # transformers 5: GradientCheckpointingLayer.__call__ checkpoints when its own
            # `gradient_checkpointing` flag is set; clear it on layers N..L-1.
            for i, layer in enumerate(layers):
                if not hasattr(layer, "gradient_checkpointing"):
                    raise RuntimeError("layer has no per-layer gradient_checkpointing flag")
                layer.gradient_checkpointing = i < int(r["ckpt"])
    flags = [bool(getattr(l, "gradient_checkpointing", False)) for l in layers]
    return model, layers, flags


def make_optimizer(r, model):
    import torch
    if r["recipe"] == "bf16":
        return Bf16MasterOptimizer(model.parameters(), 1e-5)
    return torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)


# ---------------------------------------------------------------- memory readings
def autocast_ctx(r):
    import torch
    if r["recipe"] == "amp-bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


# ---------------------------------------------------------------- saved tensors
def analyze_saved(r, model, layers, ids):
    """One extra forward+backward: what autograd saves per decoder layer (deduped by
    storage), and the allocator's growth/transient peak per layer during forward."""
    import torch
    from torch.overrides import TorchFunctionMode
    param_ptrs = {p.untyped_storage().data_ptr() for p in model.parameters()}
    state = {"layer": "pre", "fwd": True, "op": None}
    seen, saved = set(), []
    alloc = {}

    class OpMode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            prev = state["op"]
            state["op"] = getattr(func, "__name__", str(func))
            try:
                return func(*args, **(kwargs or {}))
            finally:
                state["op"] = prev

    def pack(t):
        st = t.untyped_storage()
        ptr = st.data_ptr()
        if ptr not in seen:
            seen.add(ptr)
            gf = type(t.grad_fn).__name__ if t.grad_fn is not None else None
            if ptr in param_ptrs:
                kind = "param"
            elif is_param_cast(t):
                kind = "param_cast"
            else:
                kind = "activation"
            saved.append({"layer": state["layer"], "op": state["op"], "producer": gf,
                          "shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
                          "bytes": st.nbytes(), "kind": kind})
        return t

    def pre_hook(idx):
        def f(mod, args, kwargs=None):
            if state["fwd"]:
                state["layer"] = idx
                reset_peak()
                alloc[idx] = {"in": torch.cuda.memory_allocated()}
        return f

    def post_hook(idx):
        def f(mod, args, *rest):
            if state["fwd"]:
                a = alloc[idx]
                a["retained"] = torch.cuda.memory_allocated() - a["in"]
                a["transient_peak"] = torch.cuda.max_memory_allocated() - a["in"]
                # state["layer"] stays idx: a non-reentrant checkpoint saves the layer's
                # inputs after the layer body returns, and they belong to this layer.
        return f

    def tail_hook(mod, args):
        if state["fwd"]:
            state["layer"] = "post"

    handles = [final_norm(model).register_forward_pre_hook(tail_hook)]
    for i, layer in enumerate(layers):
        handles.append(layer.register_forward_pre_hook(pre_hook(i), with_kwargs=True))
        handles.append(layer.register_forward_hook(post_hook(i)))
    try:
        model.zero_grad(set_to_none=True)
        a0 = torch.cuda.memory_allocated()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), OpMode(), autocast_ctx(r):
            out = model(input_ids=ids, labels=ids)
        state["fwd"] = False
        fwd_growth = torch.cuda.memory_allocated() - a0
        reset_peak()
        out.loss.backward()
        bwd_peak = torch.cuda.max_memory_allocated() - a0
        del out
    finally:
        for h in handles:
            h.remove()
        model.zero_grad(set_to_none=True)
    return summarize_saved(saved, alloc, len(layers), fwd_growth, bwd_peak)


def is_param_cast(t):
    """An autocast copy of a parameter (or a view of one, e.g. the transposed weight
    a linear saves): its base was made by _to_copy straight from a leaf parameter."""
    b = t._base if t._base is not None else t
    fn = b.grad_fn
    if fn is None or type(fn).__name__ != "ToCopyBackward0":
        return False
    return any(n is not None and type(n).__name__ == "AccumulateGrad" for n, _ in fn.next_functions)


def final_norm(model):
    """The module after the last decoder layer (final norm); its pre-hook marks the tail."""
    for path in ("model.norm", "transformer.ln_f", "model.decoder.norm"):
        obj = model
        try:
            for p in path.split("."):
                obj = getattr(obj, p)
            return obj
        except AttributeError:
            continue
    raise RuntimeError("final norm not found")


def histogram(entries, top=12):
    groups = {}
    for e in entries:
        k = (e["op"], e["producer"], tuple(e["shape"]), e["dtype"], e["kind"])
        g = groups.setdefault(k, {"op": k[0], "producer": k[1], "shape": list(k[2]),
                                  "dtype": k[3], "kind": k[4], "count": 0, "bytes": 0})
        g["count"] += 1
        g["bytes"] += e["bytes"]
    return sorted(groups.values(), key=lambda g: -g["bytes"])[:top]


def summarize_saved(saved, alloc, n_layers, fwd_growth, bwd_peak):
    per_layer = []
    for i in range(n_layers):
        es = [e for e in saved if e["layer"] == i]
        per_layer.append({
            "layer": i, "saved_bytes": sum(e["bytes"] for e in es),
            "param_bytes": sum(e["bytes"] for e in es if e["kind"] == "param"),
            "param_cast_bytes": sum(e["bytes"] for e in es if e["kind"] == "param_cast"),
            "activation_bytes": sum(e["bytes"] for e in es if e["kind"] == "activation"),
            "num_tensors": len(es),
            "alloc_retained_bytes": alloc.get(i, {}).get("retained"),
            "alloc_transient_peak_bytes": alloc.get(i, {}).get("transient_peak")})
    mid = n_layers // 2
    hist = {"layer_0": histogram([e for e in saved if e["layer"] == 0]),
            f"layer_{mid}": histogram([e for e in saved if e["layer"] == mid]),
            f"layer_{n_layers - 1}": histogram([e for e in saved if e["layer"] == n_layers - 1]),
            "outside_pre": histogram([e for e in saved if e["layer"] == "pre"]),
            "outside_post": histogram([e for e in saved if e["layer"] == "post"])}
    tot = lambda sel: sum(e["bytes"] for e in saved if sel(e))  # noqa: E731
    return {"total_saved_bytes": tot(lambda e: True),
            "param_bytes": tot(lambda e: e["kind"] == "param"),
            "param_cast_bytes": tot(lambda e: e["kind"] == "param_cast"),
            "activation_bytes": tot(lambda e: e["kind"] == "activation"),
            "outside_pre_bytes": tot(lambda e: e["layer"] == "pre"),
            "outside_post_bytes": tot(lambda e: e["layer"] == "post"),
            "median_layer_saved_bytes": statistics.median(p["saved_bytes"] for p in per_layer),
            "median_layer_activation_bytes": statistics.median(p["activation_bytes"] for p in per_layer),
            "forward_growth_bytes": fwd_growth, "backward_peak_over_start_bytes": bwd_peak,
            "per_layer": per_layer, "histograms": hist}


# ---------------------------------------------------------------- one run
def execute(r, rec, st, tiny):
    import torch
    cfg_in, cfg = make_config(r, tiny)
    rec["config_input"] = cfg_in
    st["phase"] = "build"
    model, layers, flags = build_model(r, cfg)
    rec["config"] = model.config.to_dict()
    rec["num_layers"] = len(layers)
    rec["checkpointed_layers"] = sum(flags)
    rec["ckpt_flags"] = flags
    rec["use_cache"] = model.config.use_cache
    rec["attn_implementation"] = model.config._attn_implementation
    rec["experts_implementation"] = getattr(model.config, "_experts_implementation", None)
    rec["num_params"] = sum(p.numel() for p in model.parameters())
    rec["param_dtype"] = str(next(model.parameters()).dtype)
    opt = make_optimizer(r, model)
    torch.cuda.synchronize()
    rec["after_init"] = readings_with_outside()
    vocab = model.config.vocab_size
    gen = torch.Generator(device="cuda").manual_seed(0)
    steps, out = [], None
    rec["steps_requested"] = harness.STEPS["count"]  # the record's command repeats --steps from it
    for step in range(1, 1 + harness.STEPS["count"]):
        ids = torch.randint(0, vocab, (r["mb"], r["seq"]), device="cuda", generator=gen)
        s = {"step": step, "start_allocated": torch.cuda.memory_allocated()}
        steps.append(s)  # appended first, so an OOM mid-step keeps the phases that ran
        rec["steps"] = steps
        ev0, ev1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        max_res = 0
        st["phase"] = f"forward{step}"
        reset_peak()
        ev0.record()
        with autocast_ctx(r):
            out = model(input_ids=ids, labels=ids)  # the previous step's `out` lives until here
        m = mem(); max_res = max(max_res, m["peak_reserved"])
        s["forward_end"], s["forward_peak"] = m["allocated"], m["peak"]
        st["phase"] = f"backward{step}"
        reset_peak()
        out.loss.backward()
        m = mem(); max_res = max(max_res, m["peak_reserved"])
        s["after_backward"], s["backward_peak"] = m["allocated"], m["peak"]
        st["phase"] = f"optimizer{step}"
        reset_peak()
        opt.step()
        opt.zero_grad(set_to_none=True)
        ev1.record()
        m = mem(); max_res = max(max_res, m["peak_reserved"])
        s["after_optimizer"], s["optimizer_peak"] = m["allocated"], m["peak"]
        s["step_peak"] = max(s["forward_peak"], s["backward_peak"], s["optimizer_peak"])
        torch.cuda.synchronize()
        s["step_seconds"] = ev0.elapsed_time(ev1) / 1000.0
        s["max_reserved"] = max_res
        s["reserved_end"] = torch.cuda.memory_reserved()
        s["device_used"] = device_used()
        s["outside_allocator"] = s["device_used"] - s["reserved_end"]
        s["loss"] = float(out.loss)
        s["out_logits_bytes"] = out.logits.untyped_storage().nbytes() if out.logits is not None else 0
    rec["peak_bytes"] = max(s["step_peak"] for s in steps)
    rec["reserved_bytes"] = max(s["max_reserved"] for s in steps)
    t = sorted(s["step_seconds"] for s in steps[1:])
    rec["step_seconds"] = statistics.median(t)
    rec["tokens_per_second"] = r["mb"] * r["seq"] / rec["step_seconds"]
    rec["allocator"] = allocator_stats()
    del out
    if r["analyze"]:
        st["phase"] = "analysis"
        ids = torch.randint(0, vocab, (r["mb"], r["seq"]), device="cuda", generator=gen)
        try:
            rec["saved_tensors"] = analyze_saved(r, model, layers, ids)
        except torch.OutOfMemoryError:
            raise
        except Exception as e:  # noqa: BLE001 - the measured steps stay valid
            rec["analysis_error"] = error_text(e)
            rec["analysis_traceback"] = traceback_text()


def run_one(r, tiny=False):
    import torch
    rec = {"id": matrix.run_id(r) + ("_tiny" if tiny else ""), "run": r, "tiny": tiny, "oom": False}
    st = {"phase": "start"}
    gc.collect()
    torch.cuda.empty_cache()
    reset_peak()
    rec["baseline_allocated"] = torch.cuda.memory_allocated()
    rec["baseline_device_used"] = device_used()
    rec["host"] = harness.host_description(launch_probe=True)  # how fast this host dispatches, run by run
    t = time.time()
    try:
        if r.get("alloc_conf"):
            torch.cuda.memory._set_allocator_settings(r["alloc_conf"])
        execute(r, rec, st, tiny)
    except torch.OutOfMemoryError as e:
        # an OOM in the extra analysis pass leaves the 3 measured steps valid
        rec["oom" if st["phase"] != "analysis" else "analysis_oom"] = True
        rec["oom_phase"] = st["phase"]
        rec["oom_message"] = str(e)[:700]
        rec["oom_allocated"] = torch.cuda.memory_allocated()
        rec["oom_phase_peak"] = torch.cuda.max_memory_allocated()
        rec["oom_reserved"] = torch.cuda.memory_reserved()
        rec["oom_tried"] = oom_tried(e)
    except Exception as e:  # noqa: BLE001 - one failure must not stop the sweep
        rec["error"] = error_text(e)
        rec["error_phase"] = st["phase"]
        rec["traceback"] = traceback_text()
    rec["wall_seconds"] = time.time() - t
    gc.collect()
    torch.cuda.empty_cache()
    if r.get("alloc_conf"):
        torch.cuda.memory._set_allocator_settings("expandable_segments:False")
    return rec


def probe(out_dir):
    """Versions and the transformers source this harness depends on, for the record."""
    import torch, transformers
    from transformers import modeling_layers
    lines = [f"torch {torch.__version__} cuda {torch.version.cuda}",
             f"transformers {transformers.__version__}",
             f"device {torch.cuda.get_device_name()} total {torch.cuda.mem_get_info()[1]}",
             f"PYTORCH_CUDA_ALLOC_CONF={os.environ.get('PYTORCH_CUDA_ALLOC_CONF')}"]
    try:
        lines.append(inspect.getsource(modeling_layers.GradientCheckpointingLayer))
    except Exception as e:  # noqa: BLE001
        lines.append(f"GradientCheckpointingLayer source: {e}")
    from transformers import modeling_utils
    for name in ("gradient_checkpointing_enable", "_set_gradient_checkpointing"):
        fn = getattr(modeling_utils.PreTrainedModel, name, None)
        if fn:
            lines.append(inspect.getsource(fn))
    try:
        from transformers.loss import loss_utils
        lines.append(inspect.getsource(loss_utils.ForCausalLMLoss))
    except Exception as e:  # noqa: BLE001
        lines.append(f"loss source: {e}")
    try:
        from transformers.models.qwen3_moe import modeling_qwen3_moe as mm
        for cls in ("Qwen3MoeExperts", "Qwen3MoeSparseMoeBlock"):
            if hasattr(mm, cls):
                lines.append(inspect.getsource(getattr(mm, cls)))
    except Exception as e:  # noqa: BLE001
        lines.append(f"moe source: {e}")
    with open(os.path.join(out_dir, "probe.txt"), "w") as f:
        f.write("\n\n".join(lines))
    log(lines[0] + " | " + lines[1] + " | " + lines[2])
    return {"torch": torch.__version__, "cuda": torch.version.cuda,
            "transformers": transformers.__version__, "gpu": torch.cuda.get_device_name()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", type=int, default=0, help="a part of matrix.py (1-7); 0 = all parts")
    ap.add_argument("--filter", default=None, help="regex over run ids")
    ap.add_argument("--smoke", action="store_true", help="tiny configs of every model type first")
    ap.add_argument("--skip-done", default=None, help="jsonl whose successful ids are skipped")
    ap.add_argument("--deadline-s", type=float, default=1e9, help="skip runs that would end after this")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--steps", type=int, default=3, help=harness.STEPS_HELP)
    ap.add_argument("--order", choices=("forward", "reversed"), default="forward",
                    help="run the selected runs in matrix order or reversed (a host's speed drifts within a call)")
    a = ap.parse_args()
    harness.set_steps(a.steps)
    runs = [r for r in matrix.RUNS if a.part in (0, r["part"])]
    if a.filter:
        runs = [r for r in runs if re.search(a.filter, matrix.run_id(r))]
    if a.skip_done and os.path.exists(a.skip_done):
        recs = [json.loads(l) for l in open(a.skip_done) if l.strip()]
        done = {x["id"] for x in recs if not x.get("error")}
        runs = [r for r in runs if matrix.run_id(r) not in done]
    if a.order == "reversed":
        runs = runs[::-1]
    est = sum(estimate_seconds(r) for r in runs)
    if a.list:
        for r in runs:
            print(f"{matrix.run_id(r):60s} part {r['part']} analyze {r['analyze']} ~{estimate_seconds(r):.1f}s")
        print(f"{len(runs)} runs, estimated {est:.0f} s")
        return
    out_dir = harness.out_dir()
    os.makedirs(out_dir, exist_ok=True)
    harness.open_log(out_dir)
    import torch
    log(f"{len(runs)} runs, estimated {est:.0f} s on an H100 (plus imports)")
    versions = probe(out_dir)
    torch.manual_seed(0)
    if a.smoke:
        with open(os.path.join(out_dir, "smoke.jsonl"), "a") as f:
            for name in matrix.TINY_OVERRIDES:
                for recipe, ckpt in (("amp-bf16", "off"), ("bf16", "off"), ("fp32", "off"),
                                     ("bf16-pure", "off"), ("amp-bf16", "full"), ("bf16", 1)):
                    r = matrix._run(name, recipe, 128, 2, ckpt, 0)
                    r["analyze"] = True
                    rec = run_one(r, tiny=True)
                    rec["versions"] = versions
                    f.write(json.dumps(rec, default=str) + "\n")
                    f.flush()
                    log(f"smoke {rec['id']}: {short(rec)}")
    with open(os.path.join(out_dir, "hf_runs.jsonl"), "a") as f:
        for i, r in enumerate(runs):
            e = estimate_seconds(r)
            if time.time() - T0 + e > a.deadline_s:
                log(f"skip {matrix.run_id(r)} (deadline, ~{e:.0f}s)")
                continue
            rec = run_one(r)
            rec["versions"] = versions
            rec["estimate_seconds"] = e
            f.write(json.dumps(rec, default=str) + "\n")
            f.flush()
            log(f"{i + 1}/{len(runs)} {rec['id']} ({rec['wall_seconds']:.1f}s, est {e:.1f}s): {short(rec)}")
    log("done")


if __name__ == "__main__":
    main()
