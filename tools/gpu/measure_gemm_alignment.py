#!/usr/bin/env python3
"""measure_gemm_alignment.py: how fast a 16-bit GEMM runs when one of its dimensions is not a multiple
of 8 elements (16 bytes), against the same GEMM padded to one.

GPT-2's vocabulary has 50257 tokens. Its lm_head GEMMs (forward, and both backward products) ran
cuBLAS's fallback `cutlass_75_tensorop_bf16_s1688gemm_bf16_*_align1` kernels on an H100, where every
other GEMM of the step ran Hopper's nvjet kernels (call29, docs/measurements/2026-12-07/call29/bf16.json).
This times, for each shape, the three products of a training step of a linear layer y = x W^T —
forward [m, k] x [k, n], input gradient [m, n] x [n, k], weight gradient [n, m] x [m, k] — at n as
given and at n rounded up to a multiple of 64, and names the kernel each ran.

    python3 tools/gpu/measure_gemm_alignment.py --out gemm_alignment.json
        [--shapes 8192x1024x50257,4096x1280x50257,...] [--dtypes bf16,fp16,fp32] [--repeats 20]

Each row: dtype, m, k, n, product, milliseconds (median of `repeats` CUDA-event timings), TFLOP/s,
the kernel's name, and the same for the padded n; per dtype, the misaligned rate's share of the padded
one (median, min, max). Exit 2 on bad input."""
import argparse
import json
import sys

# fp32 runs as PyTorch leaves it (TF32 off): its kernels need 4-element alignment, not 8.
DTYPES = ("bf16", "fp16", "fp32")
DEFAULT_SHAPES = "8192x768x50257,8192x1024x50257,4096x1280x50257,4096x1600x50257,8192x1600x50257,1024x1024x50257"


def parse_shapes(text):
    shapes = []
    for item in text.split(","):
        parts = item.split("x")
        if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise ValueError(f"shape '{item}': expected MxKxN with positive whole numbers")
        shapes.append(tuple(int(p) for p in parts))
    return shapes


def kernel_name(fn):
    import torch
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    names = [e.name for e in prof.events()
             if e.device_type == torch.autograd.DeviceType.CUDA and "memset" not in e.name.lower()]
    return names[0] if names else ""


def products(m, k, n, dtype):
    import torch
    x = torch.randn(m, k, device="cuda", dtype=dtype)
    w = torch.randn(n, k, device="cuda", dtype=dtype)
    dy = torch.randn(m, n, device="cuda", dtype=dtype)
    return {"forward": lambda: x @ w.t(), "input_gradient": lambda: dy @ w, "weight_gradient": lambda: dy.t() @ x}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--shapes", default=DEFAULT_SHAPES)
    ap.add_argument("--dtypes", default="bf16,fp16")
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args()
    try:
        shapes = parse_shapes(a.shapes)
        dtypes = [d for d in a.dtypes.split(",") if d]
        bad = [d for d in dtypes if d not in DTYPES]
        if bad or not dtypes:
            raise ValueError(f"dtypes {bad or '(none)'}: expected some of {', '.join(DTYPES)}")
        if a.repeats < 1:
            raise ValueError("--repeats below 1")
    except ValueError as e:
        print(f"measure_gemm_alignment.py: {e}", file=sys.stderr)
        sys.exit(2)
    import os
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from measure_rates import spread, timed  # timed: median of CUDA-event timings after a warm-up, in seconds
    rows = []
    for dname in dtypes:
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dname]
        for m, k, n in shapes:
            padded = -(-n // 64) * 64
            as_given, aligned = products(m, k, n, dtype), products(m, k, padded, dtype)
            for name in as_given:
                ms = 1e3 * timed(as_given[name], a.repeats)
                ms_padded = 1e3 * timed(aligned[name], a.repeats)
                row = {"dtype": dname, "m": m, "k": k, "n": n, "product": name, "ms": ms,
                       "tflops": 2e-9 * m * k * n / ms, "kernel": kernel_name(as_given[name]),
                       "n_padded": padded, "ms_padded": ms_padded, "tflops_padded": 2e-9 * m * k * padded / ms_padded,
                       "kernel_padded": kernel_name(aligned[name]), "gpu": torch.cuda.get_device_name()}
                rows.append(row)
                print(f"{dname} {m}x{k}x{n} {name:15s} {row['tflops']:6.1f} TFLOP/s ({row['kernel'][:60]}) | "
                      f"n={padded}: {row['tflops_padded']:6.1f} TFLOP/s ({row['kernel_padded'][:40]})", flush=True)
            del as_given, aligned
            torch.cuda.empty_cache()
    # Per dtype: the misaligned GEMM's FLOP rate as a share of the padded one's (what the step-time
    # model's StepMechanisms::misaligned_gemm_rate stands for), over every shape and product.
    summary = {}
    for dname in dtypes:
        t = summary[dname] = spread([r["tflops"] / r["tflops_padded"] for r in rows if r["dtype"] == dname])
        print(f"{dname}: misaligned rate / padded rate: median {t['median']:.3f}, "
              f"{t['min']:.3f}..{t['max']:.3f} over {t['rows']} products", flush=True)
    with open(a.out, "w") as f:
        json.dump({"rows": rows, "summary": summary, "torch": torch.__version__}, f, indent=1)


if __name__ == "__main__":
    main()
