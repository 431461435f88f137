#!/usr/bin/env python3
"""measure_grouped_mm.py: how fast torch._grouped_mm runs MoE experts' GEMMs, against one dense GEMM
of the same total shape.

The step-time model prices a `_grouped_mm` call as E dense GEMMs of [tokens x top-k / E] rows at
their roofline (planner/cost/step_terms.cpp, ExpertPath::grouped). zplan's runtime on MoE models
with 32K tokens a step is under-predicted by 18-27% on an H100 and an H200 (ranking sets
r1206c13, r1206c15) while its dense models sit within 3%. This times, per model shape and tokens
per call, the experts' two projections as the runtime and transformers run them
(`_grouped_mm(x, w.transpose(-2, -1), offs)`, w stacked [E, out, in], rows sorted by expert, top-k
of random router logits), forward alone and forward + backward (both gradients,
torch.autograd.grad), beside x @ W^T over the same rows with one [out, in] weight, and names the
kernels.

    python3 tools/gpu/measure_grouped_mm.py --out grouped_mm.json
        [--models qwen3-30b-a3b,qwen1.5-moe-a2.7b,mixtral-8x7b] [--tokens 4096,16384,32768]
        [--dtypes bf16] [--repeats 20]

Each row: model, experts, hidden, expert width, top-k, tokens, projection (gate_up or down), pass
(forward, training), rows per expert (mean, min, max), milliseconds (median of `repeats` CUDA-event
timings) and TFLOP/s of the grouped and the dense call, the grouped rate's share of the dense one,
and the grouped call's kernels. Exit 2 on bad input.
"""
import argparse
import json
import os
import sys

# name: (experts, hidden, expert FFN width, experts per token), from the models' config.json.
MODELS = {
    "qwen3-30b-a3b": (128, 2048, 768, 8),
    "qwen1.5-moe-a2.7b": (60, 2048, 1408, 4),
    "mixtral-8x7b": (8, 4096, 14336, 2),
}
DTYPES = ("bf16", "fp16")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--tokens", default="4096,16384,32768")
    ap.add_argument("--dtypes", default="bf16")
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args(argv)
    models = [m for m in a.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise ValueError(f"models {unknown or '(none)'}: expected some of {', '.join(MODELS)}")
    try:
        tokens = [int(t) for t in a.tokens.split(",") if t]
    except ValueError:
        raise ValueError(f"--tokens '{a.tokens}': expected comma-separated whole numbers") from None
    if not tokens or min(tokens) < 1:
        raise ValueError(f"--tokens '{a.tokens}': expected positive whole numbers")
    dtypes = [d for d in a.dtypes.split(",") if d]
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or not dtypes:
        raise ValueError(f"dtypes {bad or '(none)'}: expected some of {', '.join(DTYPES)} (_grouped_mm's fused kernel is 16-bit)")
    if a.repeats < 1:
        raise ValueError("--repeats below 1")
    return a, models, tokens, dtypes


def kernel_names(fn):
    import torch
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    names = {}
    for e in prof.events():
        if e.device_type == torch.autograd.DeviceType.CUDA:
            names[e.name[:120]] = names.get(e.name[:120], 0) + 1
    return names


def time_projection(torch, timed, repeats, dtype, offs, rows, experts, n_in, n_out):
    """One projection of every expert: the grouped call and the dense one, forward and training."""
    x = torch.randn(rows, n_in, device="cuda", dtype=dtype, requires_grad=True)
    w = (torch.randn(experts, n_out, n_in, device="cuda", dtype=dtype) * n_in ** -0.5).requires_grad_()
    wd = (torch.randn(n_out, n_in, device="cuda", dtype=dtype) * n_in ** -0.5).requires_grad_()
    dy = torch.randn(rows, n_out, device="cuda", dtype=dtype)

    def g_fwd():
        return torch._grouped_mm(x, w.transpose(-2, -1), offs=offs)

    def g_train():
        return torch.autograd.grad(g_fwd(), (x, w), dy)

    def d_fwd():
        return x @ wd.t()

    def d_train():
        return torch.autograd.grad(d_fwd(), (x, wd), dy)

    flops = 2.0 * rows * n_in * n_out
    out = []
    for pname, g, d, mult in (("forward", g_fwd, d_fwd, 1.0), ("training", g_train, d_train, 3.0)):
        with torch.no_grad() if pname == "forward" else torch.enable_grad():
            g_s = timed(g, repeats)
            d_s = timed(d, repeats)
            names = kernel_names(g)
        out.append({"pass": pname, "grouped_ms": 1e3 * g_s, "grouped_tflops": mult * flops / g_s / 1e12,
                    "dense_ms": 1e3 * d_s, "dense_tflops": mult * flops / d_s / 1e12,
                    "grouped_share_of_dense": d_s / g_s, "grouped_kernels": names,
                    "gpu": torch.cuda.get_device_name()})
    return out


def main():
    try:
        a, models, tokens_list, dtypes = parse_args(sys.argv[1:])
    except ValueError as e:
        print(f"measure_grouped_mm.py: {e}", file=sys.stderr)
        sys.exit(2)
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from measure_rates import spread, timed  # timed: median of CUDA-event timings after a warm-up, in seconds
    if not hasattr(torch, "_grouped_mm"):
        print(f"measure_grouped_mm.py: torch {torch.__version__} has no _grouped_mm (2.9+)", file=sys.stderr)
        sys.exit(2)
    torch.manual_seed(0)
    rows_out = []
    for dname in dtypes:
        dtype = torch.bfloat16 if dname == "bf16" else torch.float16
        for model in models:
            E, C, F, K = MODELS[model]
            for T in tokens_list:
                # Top-k of random router logits, rows sorted by expert as the runtime sorts them.
                ids = torch.randn(T, E, device="cuda").topk(K, dim=-1).indices.flatten()
                counts = torch.bincount(ids, minlength=E)
                offs = torch.cumsum(counts, 0).to(torch.int32)
                rows = T * K
                per_expert = {"mean": rows / E, "min": int(counts.min()), "max": int(counts.max())}
                for proj, (n_in, n_out) in (("gate_up", (C, 2 * F)), ("down", (F, C))):
                    for row in time_projection(torch, timed, a.repeats, dtype, offs, rows, E, n_in, n_out):
                        row.update({"dtype": dname, "model": model, "experts": E, "hidden": C, "expert_ffn": F,
                                    "top_k": K, "tokens": T, "projection": proj, "rows_per_expert": per_expert})
                        rows_out.append(row)
                        print(f"{dname} {model:18s} T={T:6d} {proj:7s} {row['pass']:8s} rows/expert "
                              f"{per_expert['mean']:7.0f} | grouped {row['grouped_tflops']:6.1f} TFLOP/s, dense "
                              f"{row['dense_tflops']:6.1f} | share {row['grouped_share_of_dense']:.3f}", flush=True)
                    torch.cuda.empty_cache()
    summary = {"training_share": spread([r["grouped_share_of_dense"] for r in rows_out if r["pass"] == "training"])}
    t = summary["training_share"]
    print(f"training (forward + both gradients): grouped rate / dense rate: median {t['median']:.3f}, "
          f"{t['min']:.3f}..{t['max']:.3f} over {t['rows']} rows", flush=True)
    with open(a.out, "w") as f:
        json.dump({"rows": rows_out, "summary": summary, "torch": torch.__version__}, f, indent=1)


if __name__ == "__main__":
    main()
