#!/usr/bin/env python3
"""autocast_casts_check.py: which casts torch.autocast adds to one Llama-style decoder block with
fp32 weights (docs/cost-model.md, "Autocast's casts and the host's dispatches"), counted by the op that calls each copy
(aten::_to_copy under torch.profiler), forward and backward, with autocast off and on. Runs on a CPU
(Debian's python3-torch is enough) or, with --device cuda, on the GPU machine. The block is written
as transformers writes Llama's (RMSNorm upcast, separate q/k/v, RoPE with fp32 cos/sin, softmax in
fp32, gated MLP), at toy sizes: the counts do not depend on the sizes.
    python3 tools/gpu/autocast_casts_check.py [--device cpu|cuda]
Exit status 2 on bad input.
"""
import argparse
import collections
import sys

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.profiler import ProfilerActivity, profile
except ImportError:
    print("autocast_casts_check.py: needs PyTorch (Debian: apt-get install python3-torch)", file=sys.stderr)
    sys.exit(2)

C, HEADS, T = 64, 4, 16


class RMSNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(C))

    def forward(self, x):
        dtype = x.dtype
        x = x.to(torch.float32)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
        return self.weight * x.to(dtype)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1, self.norm2 = RMSNorm(), RMSNorm()
        self.q, self.k, self.v, self.o = (nn.Linear(C, C, bias=False) for _ in range(4))
        self.gate, self.up = nn.Linear(C, 4 * C, bias=False), nn.Linear(C, 4 * C, bias=False)
        self.down = nn.Linear(4 * C, C, bias=False)

    def forward(self, x, cos, sin):
        h = self.norm1(x)
        q, k, v = self.q(h), self.k(h), self.v(h)
        q, k = q * cos + q.flip(-1) * sin, k * cos + k.flip(-1) * sin  # cos, sin in x's dtype (fp32)
        q, k, v = (t.view(1, T, HEADS, C // HEADS).transpose(1, 2) for t in (q, k, v))
        scores = torch.matmul(q, k.transpose(-1, -2)) * (C // HEADS) ** -0.5
        probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        x = x + self.o(torch.matmul(probs, v).transpose(1, 2).reshape(1, T, C))
        h = self.norm2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


def casts_by_caller(prof):
    counts = collections.Counter()
    for e in prof.events():
        if e.name != "aten::_to_copy":
            continue
        caller = e.cpu_parent
        while caller is not None and caller.name in ("aten::to", "aten::_to_copy"):
            caller = caller.cpu_parent
        counts[caller.name if caller is not None else "(python)"] += 1
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        print("autocast_casts_check.py: --device cuda: no CUDA device", file=sys.stderr)
        sys.exit(2)
    torch.manual_seed(0)
    for enabled in (False, True):
        block = Block().to(a.device)
        x = torch.randn(1, T, C, device=a.device)
        cos, sin = torch.randn(T, C, device=a.device), torch.randn(T, C, device=a.device)
        with profile(activities=[ProfilerActivity.CPU]) as forward:
            with torch.autocast(a.device, dtype=torch.bfloat16, enabled=enabled):
                loss = block(x, cos, sin).float().sum()
        with profile(activities=[ProfilerActivity.CPU]) as backward:
            loss.backward()
        f, b = casts_by_caller(forward), casts_by_caller(backward)
        print(f"autocast {'on ' if enabled else 'off'} ({a.device}, torch {torch.__version__}): "
              f"forward {sum(f.values())} casts, backward {sum(b.values())}")
        print("  forward by caller:  " + ", ".join(f"{k} {v}" for k, v in f.most_common()))
        print("  backward by caller: " + ", ".join(f"{k} {v}" for k, v in b.most_common()))


if __name__ == "__main__":
    main()
