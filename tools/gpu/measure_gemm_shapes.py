#!/usr/bin/env python3
"""measure_gemm_shapes.py: does a GEMM whose row count the GPU has not seen before cost the host
more than one it has? The runtime's per-expert loop (`--experts loop`, runtime/model/blocks.cpp
GroupedLinearFn) runs one torch.mm per expert, on that expert's rows, which change with the routing
every step; a kernel profile of it (docs/cost-model.md, "Kernel profiles and host phases of
call22") showed about 0.26 ms of host time per extra GEMM, far above a launch. The hypothesis
there: the BLAS library chooses an algorithm per new shape. This times, on the lent GPU, the
expert shapes of the built-in MoE models:

  - `repeat`: one row count, called again and again (the shape is known after the first call);
  - `seen`: row counts from a fixed set, every one already called once (shapes known, each call's
    shape differs from the last);
  - `new`: row counts never called before in this process (each call a first-time shape).

For each: the host's seconds per call (the Python loop's time to enqueue, before synchronising)
and the wall seconds per call after a synchronise. Device machine (PyTorch with CUDA, ~30 s):
    python3 tools/gpu/measure_gemm_shapes.py --out $OUT/gemm_shapes.json
"""
import argparse
import json
import random
import time

import torch

# (name, hidden, expert ffn): gate_up is [2F, C], down is [C, F] (runtime/model/blocks.cpp).
SHAPES = [("qwen3-30b-a3b", 2048, 768), ("qwen1.5-moe-a2.7b", 2048, 1408), ("mixtral-8x7b", 4096, 14336)]


def timed_calls(fn, row_counts):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for m in row_counts:
        fn(m)
    host = time.perf_counter() - t0
    torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    n = len(row_counts)
    return {"calls": n, "host_seconds_per_call": host / n, "wall_seconds_per_call": wall / n}


def measure(name, hidden, ffn, dtype, typical_rows, calls, rng):
    dev = "cuda"
    x = torch.randn(typical_rows * 4, hidden, device=dev, dtype=dtype)
    w = torch.randn(2 * ffn, hidden, device=dev, dtype=dtype)  # one expert's gate_up

    def mm(m):  # as GroupedLinearFn's forward: rows of the input times the expert's weight, transposed
        return torch.mm(x.narrow(0, 0, m), w.t())

    out = {"model": name, "hidden": hidden, "expert_ffn": ffn, "dtype": str(dtype).replace("torch.", ""),
           "typical_rows": typical_rows}
    for _ in range(3):
        mm(typical_rows)  # warm-up: context, handles, the typical shape
    out["repeat"] = timed_calls(mm, [typical_rows] * calls)
    lo, hi = typical_rows // 2, typical_rows * 3 // 2
    seen = list(range(lo, hi, max(1, (hi - lo) // 128)))  # at most about 128 shapes
    for m in seen:
        mm(m)
    torch.cuda.synchronize()
    order = [rng.choice(seen) for _ in range(calls)]
    out["seen"] = timed_calls(mm, order)
    # Row counts above every one called so far: never seen by this process.
    fresh = list(range(hi + 1, hi + 1 + calls))
    rng.shuffle(fresh)
    fresh = [min(m, x.size(0)) for m in fresh]
    out["new"] = timed_calls(mm, fresh)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--tokens", type=int, default=4096, help="tokens per step; rows per expert = tokens x top-k / experts")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("measure_gemm_shapes.py: needs a CUDA device")
    rng = random.Random(0)
    routing = {"qwen3-30b-a3b": (8, 128), "qwen1.5-moe-a2.7b": (4, 60), "mixtral-8x7b": (2, 8)}
    rows = []
    for name, hidden, ffn in SHAPES:
        k, e = routing[name]
        typical = max(8, args.tokens * k // e)
        for dtype in (torch.bfloat16, torch.float32):
            r = measure(name, hidden, ffn, dtype, typical, args.calls if ffn < 8192 else args.calls // 8, rng)
            rows.append(r)
            print(f"{name:18s} {r['dtype']:8s} rows~{typical:5d}  host us/call: repeat {1e6 * r['repeat']['host_seconds_per_call']:7.1f}"
                  f"  seen {1e6 * r['seen']['host_seconds_per_call']:7.1f}  new {1e6 * r['new']['host_seconds_per_call']:7.1f}"
                  f"   wall us/call: repeat {1e6 * r['repeat']['wall_seconds_per_call']:7.1f}  seen {1e6 * r['seen']['wall_seconds_per_call']:7.1f}"
                  f"  new {1e6 * r['new']['wall_seconds_per_call']:7.1f}", flush=True)
    info = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda,
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "rows": rows}
    with open(args.out, "w") as f:
        json.dump(info, f, indent=1)


if __name__ == "__main__":
    main()
