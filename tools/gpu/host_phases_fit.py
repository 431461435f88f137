#!/usr/bin/env python3
"""host_phases_fit.py: fit transformers' host time per step (forward + backward, from
measure_host_phases.py) as launches x one cost, and as module calls x one cost + launches x another,
by least squares over the file's rows without recompute; prints each fit's constants, its error per
model, and its error with each model left out of the fit (docs/cost-model.md, "Call23").
    python3 tools/gpu/host_phases_fit.py docs/measurements/2026-12-07/call25/host_phases_families.json
Module calls per forward are zplan's count of transformers' module tree (hf_top_modules + layers x
hf_layer_modules, planner/cost/deepspeed_step.cpp), listed here per built-in model. Exit status 2 on
bad input.
"""
import json
import sys

# Module calls of one forward (hf_top_modules + layers x hf_layer_modules), per built-in model.
MODULE_CALLS = {"gpt2": 163, "gpt2-medium": 319, "gpt2-large": 475, "gpt2-xl": 631, "qwen3-0.6b": 426,
                "qwen3-1.7b": 426, "llama-3.2-1b": 214, "gemma-3-1b": 448}


def lstsq(rows, y):
    """Least squares for 1 or 2 unknowns (normal equations; no numpy on the build machine)."""
    k = len(rows[0])
    ata = [[sum(r[i] * r[j] for r in rows) for j in range(k)] for i in range(k)]
    aty = [sum(r[i] * v for r, v in zip(rows, y)) for i in range(k)]
    if k == 1:
        return [aty[0] / ata[0][0]]
    det = ata[0][0] * ata[1][1] - ata[0][1] * ata[1][0]
    return [(aty[0] * ata[1][1] - aty[1] * ata[0][1]) / det, (ata[0][0] * aty[1] - ata[1][0] * aty[0]) / det]


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        rows = [r for r in json.load(open(sys.argv[1])) if not r.get("gradient_checkpointing")]
    except (OSError, ValueError) as e:
        print(f"host_phases_fit.py: {sys.argv[1]}: {e}", file=sys.stderr)
        sys.exit(2)
    rows = [r for r in rows if r.get("model") in MODULE_CALLS]
    if len(rows) < 3:
        print("host_phases_fit.py: fewer than 3 rows without recompute of models with a module count", file=sys.stderr)
        sys.exit(2)
    names = [r["model"] for r in rows]
    host = [r["forward_host_s"] + r["backward_host_s"] for r in rows]
    launches = [r["forward_kernels"] + r["backward_kernels"] for r in rows]
    for label, x in (("launches x one cost", [[n] for n in launches]),
                     ("module calls x one cost + launches x another", [[MODULE_CALLS[m], n] for m, n in zip(names, launches)])):
        c = lstsq(x, host)
        err = [(sum(a * b for a, b in zip(xi, c)) - y) / y for xi, y in zip(x, host)]
        loo = []
        for i in range(len(x)):
            ci = lstsq(x[:i] + x[i + 1:], host[:i] + host[i + 1:])
            loo.append((sum(a * b for a, b in zip(x[i], ci)) - host[i]) / host[i])
        print(f"{label}: " + ", ".join(f"{1e6 * v:.1f} us" for v in c))
        print("  error  " + "  ".join(f"{m} {100 * e:+.1f}%" for m, e in zip(names, err)))
        print(f"  mean / max {100 * sum(map(abs, err)) / len(err):.1f}% / {100 * max(map(abs, err)):.1f}%; "
              f"each model left out {100 * sum(map(abs, loo)) / len(loo):.1f}% / {100 * max(map(abs, loo)):.1f}%")


if __name__ == "__main__":
    main()
