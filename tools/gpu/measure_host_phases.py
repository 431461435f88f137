#!/usr/bin/env python3
"""measure_host_phases.py: the host's time per phase of a transformers training step, apart from
the GPU's, to decide how the step-time model should price launches (docs/cost-model.md, "Two host
mechanisms tried and not adopted"). transformers' host-bound runs take twice as long with full
recompute as without. This measures why.

For each configuration (model from tools/hf_reference/matrix.py, bf16 weights, gradient
checkpointing off or on as measure_hf.py sets it, use_reentrant=False), after warm-up, the median
over repeats of:
  - forward_host_s: time until model(...) returns (launches only; nothing waits for the GPU);
  - forward_wall_s: ... until the GPU has finished it (torch.cuda.synchronize);
  - backward_host_s: time until loss.backward() returns (autograd's engine has launched every node,
    the recompute included);
  - backward_wall_s: ... until the GPU has finished;
  - step_wall_s: forward + backward with no synchronisation between them;
  - forward_kernels, backward_kernels: CUDA kernels of each phase (torch.profiler, one repeat);
  - forward_device_busy_s, backward_device_busy_s, step_device_busy_s: the seconds the GPU spends
    in kernels during each phase and during an unsynchronised forward + backward (the union of the
    kernels' intervals, one profiled repeat).
The host's seconds per kernel of each phase follow from these. Over a sweep of lengths (the host's
work stays, the GPU's grows) step_wall_s against the host's and the GPU's seconds shows how the two
overlap (tools/gpu/host_device_overlap_fit.py).
With --kernel-names, each phase's kernels by name as well (forward_kernel_names, backward_kernel_names).
With --count-ops, what the host dispatches per phase, whether or not it launches a kernel:
  - forward_ops: aten ops called from Python (no aten op above them: views and no-op casts included);
  - forward_module_calls: nn.Module forward calls;
  - backward_nodes: autograd nodes the engine runs (each runs its ops from C++).
--precision picks the weights' dtype and autocast as measure_hf.py's recipes do: bf16 (bf16 weights,
no autocast), amp-bf16 (fp32 weights under torch.autocast bf16), fp32.
Device machine (transformers and PyTorch with CUDA, about a minute):
    python3 tools/gpu/measure_host_phases.py --out $OUT/host_phases.json
    python3 tools/gpu/measure_host_phases.py --out $OUT/kernel_names.json --models gpt2-large,qwen3-0.6b \
        --seqs 512 --checkpointing off --kernel-names
    python3 tools/gpu/measure_host_phases.py --out $OUT/amp.json --models qwen3-0.6b --seqs 512 \
        --checkpointing off --precision amp-bf16 --kernel-names --count-ops
"""
import argparse
import contextlib
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hf_reference"))


def profile_kernels(fn):
    """CUDA kernels fn() launches (one call, profiled): how many, how many of each name (the first
    120 characters of the kernel's name: templates make them long), and the GPU's busy seconds (the
    union of the kernels' intervals: the profiler slows the host, not the kernels)."""
    import collections
    import torch
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    busy_us, covered_until = 0.0, float("-inf")
    for start, end in sorted((e.time_range.start, e.time_range.end) for e in kernels):
        if end > covered_until:
            busy_us += end - max(start, covered_until)
            covered_until = end
    names = collections.Counter(e.name[:120] for e in kernels)
    return len(kernels), dict(names.most_common()), busy_us * 1e-6


def count_host_ops(fn):
    """What the host dispatches in fn() (one call, CPU-profiled): aten ops with no aten op above
    them (the calls Python or an autograd node makes, a view or a cast that launches nothing
    included), autograd nodes the engine evaluates, and nn.Module forward calls."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    module_calls = [0]

    def count_call(module, args):
        module_calls[0] += 1
    handle = torch.nn.modules.module.register_module_forward_pre_hook(count_call)
    try:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fn()
    finally:
        handle.remove()
    top_ops, nodes = 0, 0
    for e in prof.events():
        if e.name.startswith("autograd::engine::evaluate_function"):
            nodes += 1
        if not e.name.startswith("aten::"):
            continue
        parent = e.cpu_parent
        while parent is not None and not parent.name.startswith("aten::"):
            parent = parent.cpu_parent
        top_ops += parent is None
    return top_ops, nodes, module_calls[0]


def build_training_model(model_name, seq, ckpt, weights):
    """matrix.py's `model_name` on the GPU in dtype `weights`, in training mode, as measure_hf.py runs
    its records (no KV cache), with every layer checkpointed (non-reentrant) when `ckpt`; and one
    [1, seq] batch of token ids. Also used by gc_step_check.py."""
    import torch
    import transformers
    import harness
    import matrix
    cfg_dict = dict(matrix.MODELS[model_name])
    if cfg_dict["model_type"] == "gpt2":
        cfg_dict["n_positions"] = max(cfg_dict["n_positions"], seq)
    cfg = harness.config_from_dict(cfg_dict)
    model = transformers.AutoModelForCausalLM.from_config(cfg).to("cuda", weights)
    model.train()
    # As measure_hf.py runs its records: no KV cache in training. Calls 22-27 ran with the config's
    # default (on): a DynamicCache per forward, two torch.cat launches per layer and its Python.
    model.config.use_cache = False
    if ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model, torch.randint(0, cfg.vocab_size, (1, seq), device="cuda")


def measure(model_name, seq, ckpt, repeats, precision="bf16", kernel_names=False, count_ops=False):
    import torch
    import transformers
    import harness
    weights = torch.bfloat16 if precision == "bf16" else torch.float32
    model, ids = build_training_model(model_name, seq, ckpt, weights)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if precision == "amp-bf16" else contextlib.nullcontext

    def forward():
        with autocast():
            return model(input_ids=ids, labels=ids).loss

    rows = {k: [] for k in ("forward_host_s", "forward_wall_s", "backward_host_s", "backward_wall_s", "step_wall_s")}
    for i in range(3 + repeats):
        model.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = forward()
        t1 = time.perf_counter()
        torch.cuda.synchronize()
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        torch.cuda.synchronize()
        t4 = time.perf_counter()
        model.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        t5 = time.perf_counter()
        forward().backward()
        torch.cuda.synchronize()
        t6 = time.perf_counter()
        if i >= 3:
            rows["forward_host_s"].append(t1 - t0)
            rows["forward_wall_s"].append(t2 - t0)
            rows["backward_host_s"].append(t3 - t2)
            rows["backward_wall_s"].append(t4 - t2)
            rows["step_wall_s"].append(t6 - t5)
    out = {k: statistics.median(v) for k, v in rows.items()}
    model.zero_grad(set_to_none=True)
    holder = {}
    out["forward_kernels"], forward_names, out["forward_device_busy_s"] = profile_kernels(
        lambda: holder.__setitem__("loss", forward()))
    out["backward_kernels"], backward_names, out["backward_device_busy_s"] = profile_kernels(
        lambda: holder["loss"].backward())
    model.zero_grad(set_to_none=True)
    _, _, out["step_device_busy_s"] = profile_kernels(lambda: forward().backward())
    if kernel_names:  # which ops a phase launches, to check the step-time model's counts per op
        out["forward_kernel_names"], out["backward_kernel_names"] = forward_names, backward_names
    if count_ops:
        model.zero_grad(set_to_none=True)
        out["forward_ops"], _, out["forward_module_calls"] = count_host_ops(
            lambda: holder.__setitem__("loss", forward()))
        out["backward_ops"], out["backward_nodes"], _ = count_host_ops(lambda: holder["loss"].backward())
        model.zero_grad(set_to_none=True)
    out.update(model=model_name, seq=seq, gradient_checkpointing=ckpt, layers=model.config.num_hidden_layers, precision=precision,
               torch=torch.__version__, transformers=transformers.__version__, gpu=torch.cuda.get_device_name())
    out["host_launch_probe_us"] = harness.host_launch_probe_us()  # this host's speed, beside its seconds
    out["host_op_probe_us"] = harness.host_op_probe_us()  # per aten op of a tiny autograd graph
    for phase in ("forward", "backward"):
        out[f"{phase}_host_us_per_kernel"] = 1e6 * out[f"{phase}_host_s"] / max(1, out[f"{phase}_kernels"])
    del model
    torch.cuda.empty_cache()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--models", default="qwen3-0.6b,gpt2-large", help="names from tools/hf_reference/matrix.py")
    ap.add_argument("--seqs", default="512,2048", help="sequence lengths")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--checkpointing", choices=("both", "off", "on"), default="both",
                    help="gradient checkpointing of the measured runs (default: each configuration without and with)")
    ap.add_argument("--precision", choices=("bf16", "amp-bf16", "fp32"), default="bf16",
                    help="bf16 weights; fp32 weights under autocast bf16; or fp32 (default bf16)")
    ap.add_argument("--count-ops", action="store_true",
                    help="also count each phase's host dispatches: aten ops, autograd nodes, module calls")
    ap.add_argument("--kernel-names", action="store_true",
                    help="also write each phase's kernels by name (forward_kernel_names, backward_kernel_names)")
    a = ap.parse_args()
    if a.repeats < 1:
        ap.error("--repeats: expected at least 1")
    try:
        seqs = [int(s) for s in a.seqs.split(",")]
    except ValueError:
        ap.error("--seqs: expected comma-separated integers")
    import matrix
    for m in a.models.split(","):
        if m not in matrix.MODELS:
            ap.error(f"--models: unknown model '{m}' (matrix.py has {', '.join(sorted(matrix.MODELS))})")
    results = []
    for m in a.models.split(","):
        for seq in seqs:
            for ckpt in {"both": (False, True), "off": (False,), "on": (True,)}[a.checkpointing]:
                r = measure(m, seq, ckpt, a.repeats, a.precision, a.kernel_names, a.count_ops)
                results.append(r)
                print(json.dumps(r), flush=True)
                with open(a.out, "w") as f:  # rewritten after each row: nothing lost if the call ends early
                    json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
