#!/usr/bin/env python3
"""kernel_summary.py: where a training step's GPU time goes, by kernel category, for one or more
kernel profiles side by side (TSV files written by `zplan_measure_runtime --kernel-profile` and
`bench_hf_train.py --kernel-profile`: "# steps N wall_seconds W", then name, launches, nanoseconds).

    python3 tools/gpu/kernel_summary.py zplan=z.tsv hf=h.tsv [--top 15]

Prints per category the milliseconds per step, the share of the step's wall time, and launches per
step; "idle" is wall time with no kernel running (launch gaps, host syncs, the first step's warm-up;
kernels of several streams overlapping would make it negative). Then the top kernels by time.
The categories are read from kernel names (cuBLAS/CUTLASS GEMMs, flash attention, ...): a heuristic,
so the top-kernel list is printed too.
"""
import argparse
import re
import sys

# (category, pattern on the kernel name), first match wins; order matters (a GEMM kernel's name can
# contain "elementwise" in its epilogue's template arguments).
CATEGORIES = [
    ("memcpy/memset", r"^Memcpy|^Memset|memcpy|memset"),
    ("attention", r"flash|fmha|attention|_efficient_attention|pytorch_flash"),
    ("gemm", r"gemm|cutlass|nvjet|xmma|cublas|sm\d+_.*_tn|grouped_mm|GroupedGemm|splitK"),
    ("optimizer", r"multi_tensor|adam|Adam|_fused_adam"),
    ("loss/softmax", r"softmax|log_softmax|nll_loss|cross_entropy|logsumexp"),
    ("reduce/norm", r"reduce_kernel|Reduce|norm|mean|rsqrt|GammaBeta"),
    ("cat/index/gather", r"cat_|CatArray|index|gather|scatter|embedding|histc|cumsum|sort|topk"),
    ("copy/cast", r"copy_kernel|direct_copy|CopyKernel|to_copy|(?<!no)cast"),
    ("elementwise", r"elementwise|vectorized|unrolled|pointwise|Functor|silu|mul|add"),
]


def category(name):
    for label, pattern in CATEGORIES:
        if re.search(pattern, name):
            return label
    return "other"


# GPU-timeline annotations that torch.profiler records around Python calls (for example
# "Optimizer.step#AdamW.step"): they span kernels listed on their own, so they are not counted.
ANNOTATION = re.compile(r"^[\w.]+#[\w.]+$")


def read_profile(path):
    with open(path) as f:
        header = f.readline().split()
        if len(header) < 5 or header[0] != "#" or header[1] != "steps" or header[3] != "wall_seconds":
            sys.exit(f"{path}: not a kernel profile (expected '# steps N wall_seconds W' first)")
        steps, wall = int(header[2]), float(header[4])
        kernels = {}
        for line in f:
            name, launches, ns = line.rstrip("\n").rsplit("\t", 2)
            if not ANNOTATION.match(name):
                kernels[name] = (int(launches), int(ns))
    return steps, wall, kernels


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profiles", nargs="+", help="label=path.tsv")
    ap.add_argument("--top", type=int, default=15)
    a = ap.parse_args()
    sides = []
    for spec in a.profiles:
        label, _, path = spec.partition("=")
        if not path:
            sys.exit(f"expected label=path, got {spec}")
        sides.append((label, *read_profile(path)))
    names = [c for c, _ in CATEGORIES] + ["other"]
    print("category".ljust(18) + "".join(f"{label + ' ms/step':>18}{'share':>8}{'launches':>10}" for label, *_ in sides))
    per_side = []
    for label, steps, wall, kernels in sides:
        totals = {c: [0, 0] for c in names}
        for name, (launches, ns) in kernels.items():
            t = totals[category(name)]
            t[0] += launches
            t[1] += ns
        per_side.append((steps, wall, totals))
    for c in names:
        row = c.ljust(18)
        for steps, wall, totals in per_side:
            ms = totals[c][1] / 1e6 / steps
            row += f"{ms:18.2f}{100 * ms / (1e3 * wall / steps):7.1f}%{totals[c][0] / steps:10.0f}"
        print(row)
    for label_row, pick in (("kernels (sum)", lambda s, w, t: sum(v[1] for v in t.values()) / 1e6 / s),
                            ("idle", lambda s, w, t: 1e3 * w / s - sum(v[1] for v in t.values()) / 1e6 / s),
                            ("wall", lambda s, w, t: 1e3 * w / s)):
        row = label_row.ljust(18)
        for steps, wall, totals in per_side:
            ms = pick(steps, wall, totals)
            row += f"{ms:18.2f}{100 * ms / (1e3 * wall / steps):7.1f}%{'':10}"
        print(row)
    for label, steps, wall, kernels in sides:
        print(f"\ntop {a.top} kernels, {label} (ms/step, launches/step, category):")
        for name, (launches, ns) in sorted(kernels.items(), key=lambda kv: -kv[1][1])[: a.top]:
            print(f"  {ns / 1e6 / steps:9.2f} {launches / steps:7.0f}  {category(name):16} {name[:110]}")


if __name__ == "__main__":
    main()
