#!/usr/bin/env python3
"""measure_rates.py: measure, on the lent GPU, the rates behind zplan's step-time model
(docs/cost-model.md) and write them as one JSON file, so that the calibration's fitted constants can
be checked against direct measurements and its free constants narrowed.

First run on an H100 (2026-12-06, docs/measurements/2026-12-06/call3/rates_h100.json, about a
minute); its attention rows set the step-time model's flash_attention_half_rate_keys
(planner/cost/step_terms.h, docs/cost-model.md "Attention by length"). Device machine:
    python3 tools/gpu/measure_rates.py --out $OUT/rates_<gpu>.json
(PyTorch with CUDA; a few minutes). `--parts attention,overheads` measures a subset;
`--attention-shapes 32x8x64,8x8x256` times other (heads x key/value heads x head dim) layouts,
`--attention-dtypes bf16,fp32` other element types (fp32: SDPA's memory-efficient kernel).
What it measures, each as the median of timed repeats after warm-up, with CUDA events:
  - matmul TFLOP/s per shape class: bf16/fp16/fp32 GEMMs [m x k] x [k x n] for m in tokens
    (128 .. 32768) and (k, n) from the projections of the built-in models (square hidden,
    hidden->ffn, ffn->hidden, hidden->vocab) and MoE expert shapes (few tokens per expert);
    the model's roofline per shape (planner/cost/step_terms.cpp) divided by the measured time is
    the matmul efficiency per class.
  - HBM bandwidth: copy and an elementwise multiply-add over 1 GiB (read + write bytes / time).
  - attention kernel times: scaled_dot_product_attention forward+backward, causal, for sequence
    lengths 1K..32K and three head counts (q, k and v all get the query heads), and the eager
    (matmul + softmax + matmul) path up to 8K; FLOPs per the model's attention term / time.
  - kernel launch overhead: time of 10,000 tiny eager ops (launch-bound) per op.
  - host sync cost: torch.cuda.synchronize() after a queue of 100 tiny ops, per sync.
  - PCIe: pinned host <-> device copies of 1 GiB each way.
  - with several GPUs: all-reduce, all-gather and reduce-scatter bus bandwidth (NCCL) at
    64 MiB..1 GiB, via torch.distributed when launched with torchrun.
Step times of a matrix of plans for calibration come from `zplan --run` (tools/gpu/check.sh,
MATRIX=holdout) and tools/hf_reference/measure_hf.py, which write run records; copy them into
tests/regression/measured/<folder>/ and run
    zplan calibrate tests/regression/measured --gpu <gpu> --out hardware/calibration/<gpu>.yaml
"""
import argparse
import json
import os
import statistics
import time

import torch


def timed(fn, repeats=20, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1000.0)
    return statistics.median(times)


def spread(values):
    """Median, smallest and largest of a list of ratios (the measure_* scripts' summaries)."""
    v = sorted(values)
    return {"median": v[len(v) // 2], "min": v[0], "max": v[-1], "rows": len(v)}


# (name, k, n) per shape class: from the built-in models' projections (hidden 1024..8192).
SHAPES = [("square_1k", 1024, 1024), ("square_4k", 4096, 4096), ("up_4k_14k", 4096, 14336),
          ("down_14k_4k", 14336, 4096), ("head_2k_152k", 2048, 151936), ("expert_2k_768", 2048, 768),
          ("expert_768_2k", 768, 2048)]
TOKENS = [128, 512, 2048, 8192, 32768]
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def matmul_rates():
    out = []
    for dname, dtype in DTYPES.items():
        for name, k, n in SHAPES:
            for m in TOKENS:
                if m * k * n * 2 > 8e12 and dname == "fp32":
                    continue
                a = torch.randn(m, k, device="cuda", dtype=dtype)
                b = torch.randn(k, n, device="cuda", dtype=dtype)
                s = timed(lambda: a @ b)
                out.append({"dtype": dname, "shape": name, "m": m, "k": k, "n": n, "seconds": s,
                            "tflops": 2 * m * k * n / s / 1e12})
                del a, b
    return out


def bandwidth():
    x = torch.empty(1 << 29, device="cuda", dtype=torch.float16)  # 1 GiB
    y = torch.empty_like(x)
    copy = timed(lambda: y.copy_(x))
    fma = timed(lambda: torch.add(x, y, alpha=0.5, out=y))
    return {"copy_gb_per_s": 2 * x.numel() * 2 / copy / 1e9, "add_gb_per_s": 3 * x.numel() * 2 / fma / 1e9}


# (query heads, key/value heads, head dim): the H100 run of 2026-12-06's shapes; --attention-shapes
# adds others (head dims 64, 96 and 256 are Llama-3.2-1B's and GPT-2's, Phi-3's and Gemma 3's).
DEFAULT_ATTENTION_SHAPES = [(16, 8, 128), (32, 4, 128), (32, 8, 128)]


ATTENTION_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def attention_times(shapes=DEFAULT_ATTENTION_SHAPES, dtypes=("bf16",)):
    out = []
    F = torch.nn.functional
    for (heads, kv, hd), dtype_name in [(s, d) for d in dtypes for s in shapes]:
        dtype = ATTENTION_DTYPES[dtype_name]
        # fp32 has no flash kernel (SDPA takes the memory-efficient one): slower, so shorter sequences.
        for seq in [1024, 4096, 8192, 16384, 32768] if dtype_name != "fp32" else [1024, 4096, 8192]:
            q = torch.randn(1, heads, seq, hd, device="cuda", dtype=dtype, requires_grad=True)
            k = torch.randn(1, heads, seq, hd, device="cuda", dtype=dtype, requires_grad=True)
            v = torch.randn(1, heads, seq, hd, device="cuda", dtype=dtype, requires_grad=True)

            def sdpa():
                F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()

            def eager():
                scores = (q @ k.transpose(-1, -2)) / hd ** 0.5
                mask = torch.ones(seq, seq, device="cuda", dtype=torch.bool).triu(1)
                p = scores.masked_fill(mask, float("-inf")).float().softmax(-1).to(q.dtype)
                (p @ v).sum().backward()

            row = {"heads": heads, "kv_heads": kv, "head_dim": hd, "dtype": dtype_name, "seq": seq, "sdpa_fwd_bwd_seconds": timed(sdpa, 5, 1)}
            # causal flash FLOPs (model's attention term): forward 4*T*(T/2)*heads*hd, backward 2.5x
            row["sdpa_tflops"] = 3.5 * 4 * seq * (seq / 2) * heads * hd / row["sdpa_fwd_bwd_seconds"] / 1e12
            if seq <= 8192:
                row["eager_fwd_bwd_seconds"] = timed(eager, 3, 1)
            out.append(row)
            del q, k, v
            torch.cuda.empty_cache()
    return out


def overheads():
    x = torch.zeros(16, device="cuda")
    n = 10000
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        x.add_(1.0)
    torch.cuda.synchronize()
    per_op = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(100):
        for _ in range(100):
            x.add_(1.0)
        torch.cuda.synchronize()
    per_sync = (time.perf_counter() - t0) / 100 - 100 * per_op
    return {"kernel_overhead_seconds": per_op, "host_sync_seconds": max(per_sync, 0.0)}


def pcie():
    host = torch.empty(1 << 29, dtype=torch.float16, pin_memory=True)
    dev = torch.empty(1 << 29, dtype=torch.float16, device="cuda")
    h2d = timed(lambda: dev.copy_(host, non_blocking=True), 5, 1)
    d2h = timed(lambda: host.copy_(dev, non_blocking=True), 5, 1)
    return {"h2d_gb_per_s": host.numel() * 2 / h2d / 1e9, "d2h_gb_per_s": host.numel() * 2 / d2h / 1e9}


def collectives():
    if int(os.environ.get("WORLD_SIZE", "1")) < 2:
        return None
    import torch.distributed as dist
    dist.init_process_group("nccl")
    torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    n, out = dist.get_world_size(), []
    for mib in [64, 256, 1024]:
        x = torch.empty(mib << 19, device="cuda", dtype=torch.bfloat16)
        parts = [torch.empty(x.numel() // n, device="cuda", dtype=x.dtype) for _ in range(n)]
        ar = timed(lambda: dist.all_reduce(x), 5, 2)
        ag = timed(lambda: dist.all_gather(parts, parts[0]), 5, 2)
        rs = timed(lambda: dist.reduce_scatter(parts[0], parts), 5, 2)
        bytes_ = x.numel() * 2
        # NCCL's bus bandwidth: all-reduce moves 2(n-1)/n of the data, the others (n-1)/n.
        out.append({"mib": mib, "all_reduce_busbw_gb_per_s": 2 * (n - 1) / n * bytes_ / ar / 1e9,
                    "all_gather_busbw_gb_per_s": (n - 1) / n * bytes_ / ag / 1e9,
                    "reduce_scatter_busbw_gb_per_s": (n - 1) / n * bytes_ / rs / 1e9})
    return {"world_size": n, "sizes": out}


PARTS = ["bandwidth", "overheads", "pcie", "attention", "matmul", "collectives"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--parts", default=",".join(PARTS),
                    help="comma-separated subset of " + ",".join(PARTS) + " (default: all)")
    ap.add_argument("--attention-shapes", default="",
                    help="attention shapes as HEADSxKV_HEADSxHEAD_DIM, comma-separated (default: "
                         + ",".join("x".join(map(str, s)) for s in DEFAULT_ATTENTION_SHAPES) + ")")
    ap.add_argument("--attention-dtypes", default="bf16",
                    help="attention element types, comma-separated, of " + ",".join(ATTENTION_DTYPES) + " (default: bf16)")
    args = ap.parse_args()
    dtypes = [d for d in args.attention_dtypes.split(",") if d]
    if not dtypes or any(d not in ATTENTION_DTYPES for d in dtypes):
        ap.error("--attention-dtypes takes a comma-separated subset of " + ",".join(ATTENTION_DTYPES))
    parts = [p for p in args.parts.split(",") if p]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        ap.error("unknown part(s) " + ",".join(unknown) + "; choose from " + ",".join(PARTS))
    shapes = DEFAULT_ATTENTION_SHAPES
    if args.attention_shapes:
        try:
            shapes = [tuple(int(v) for v in s.split("x")) for s in args.attention_shapes.split(",")]
            if any(len(s) != 3 or min(s) <= 0 for s in shapes):
                raise ValueError
        except ValueError:
            ap.error("--attention-shapes takes HEADSxKV_HEADSxHEAD_DIM,... with positive integers, e.g. 32x8x64")
    measure = {"bandwidth": bandwidth, "overheads": overheads, "pcie": pcie,
               "attention": lambda: attention_times(shapes, dtypes), "matmul": matmul_rates, "collectives": collectives}
    result = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda}
    for p in parts:
        print("measuring", p, flush=True)
        result[p] = measure[p]()
    if int(os.environ.get("RANK", "0")) == 0:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
        print("wrote", args.out)


if __name__ == "__main__":
    main()
