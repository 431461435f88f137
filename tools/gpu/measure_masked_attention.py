"""SDPA forward + backward with an explicit boolean mask (sliding window, as zplan's runtime and
transformers mask Gemma 3, Mistral v0.1 and Phi-3 past the window) against is_causal=True, per
length, on the lent GPU. Output: one JSON line per case on stdout and in --out.

    python3 tools/gpu/measure_masked_attention.py --out $OUT/masked_attention.json
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F


def timed(fn, reps=3, warm=1):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / reps


def case(heads, head_dim, seq, window, dtype=torch.bfloat16):
    q, k, v = (torch.randn(1, heads, seq, head_dim, device="cuda", dtype=dtype, requires_grad=True) for _ in range(3))
    g = torch.randn(1, heads, seq, head_dim, device="cuda", dtype=dtype)
    i = torch.arange(seq, device="cuda")
    allowed = (i[None, :] <= i[:, None]) & (i[:, None] - i[None, :] < window)  # [T, T], True = attend
    mask = allowed.expand(1, 1, seq, seq)

    def run(**kw):
        out = F.scaled_dot_product_attention(q, k, v, **kw)
        out.backward(g)

    causal = timed(lambda: run(is_causal=True))
    masked = timed(lambda: run(attn_mask=mask))
    flops_causal = 4.0 * seq * (seq / 2) * heads * head_dim * 3.5  # forward 2 products, backward 5
    return dict(heads=heads, head_dim=head_dim, seq=seq, window=window, dtype=str(dtype).split(".")[-1],
                causal_seconds=causal, masked_seconds=masked, masked_over_causal=masked / causal,
                causal_tflops=flops_causal / causal / 1e12, masked_full_tflops=2 * flops_causal / masked / 1e12)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seqs", default="4096,8192,16384,32768")
    a = ap.parse_args()
    rows = []
    # Gemma-3-1B (4 heads of 256, window 512), Mistral-7B v0.1 / Phi-3-mini layouts (32 x 128, 4096 / 2047).
    for heads, hd, window in ((4, 256, 512), (32, 128, 4096)):
        for seq in (int(s) for s in a.seqs.split(",")):
            if window >= seq:
                continue
            try:
                r = case(heads, hd, seq, window)
            except torch.OutOfMemoryError as e:  # noqa: PERF203
                r = dict(heads=heads, head_dim=hd, seq=seq, window=window, error=str(e)[:200])
            torch.cuda.empty_cache()
            print(json.dumps(r), flush=True)
            rows.append(r)
    with open(a.out, "w") as f:
        json.dump(dict(gpu=torch.cuda.get_device_name(), torch=torch.__version__, cases=rows), f, indent=1)


if __name__ == "__main__":
    main()
