#!/usr/bin/env python3
"""host_phases_fit.py: fit transformers' host time per step (forward + backward, from
measure_host_phases.py) as launches x one cost, and as module calls x one cost + launches x another,
by least squares over the files' rows without recompute; prints each fit's constants, its error per
row, and its error with each model left out of the fit (docs/cost-model.md, "Call23"). Rows that
carry measure_host_phases.py --count-ops counts are also fitted as the host's dispatches: forward
aten ops + backward launches x one cost; forward aten ops x one cost + backward autograd nodes x
another; and the two with launches x a third ("Autocast's casts and the host's dispatches").
    python3 tools/gpu/host_phases_fit.py docs/measurements/2026-12-07/call25/host_phases_families.json
    python3 tools/gpu/host_phases_fit.py FILE [FILE ...]
Module calls per forward are the measured ones (forward_module_calls) where a row has them, else
zplan's count of transformers' module tree (hf_top_modules + layers x hf_layer_modules,
planner/cost/deepspeed_step.cpp), listed here per built-in model for files measured before the
count. Where a model appears in several rows (two passes of one call), it also prints how far the
host's seconds moved beside the host's speed probe. Exit status 2 on bad input.
"""
import json
import sys

# Module calls of one forward (hf_top_modules + layers x hf_layer_modules), per built-in model; tests/planner/
# launch_count_test.cpp checks that they stay the planner's count.
MODULE_CALLS = {"gpt2": 163, "gpt2-medium": 319, "gpt2-large": 475, "gpt2-xl": 631, "qwen3-0.6b": 426,
                "qwen3-1.7b": 426, "llama-3.2-1b": 214, "gemma-3-1b": 448}


def lstsq(rows, y):
    """Least squares (normal equations, Gaussian elimination; no numpy on the build machine)."""
    k = len(rows[0])
    a = [[sum(r[i] * r[j] for r in rows) for j in range(k)] + [sum(r[i] * v for r, v in zip(rows, y))] for i in range(k)]
    for c in range(k):
        pivot = max(range(c, k), key=lambda i: abs(a[i][c]))
        a[c], a[pivot] = a[pivot], a[c]
        for i in range(k):
            if i != c and a[c][c]:
                f = a[i][c] / a[c][c]
                a[i] = [x - f * z for x, z in zip(a[i], a[c])]
    return [a[i][k] / a[i][i] if a[i][i] else 0.0 for i in range(k)]


def label_of(r):
    return r["model"] + ("" if r.get("precision", "bf16") == "bf16" else " " + r["precision"])


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    rows = []
    for path in sys.argv[1:]:
        try:
            rows += [r for r in json.load(open(path)) if not r.get("gradient_checkpointing")]
        except (OSError, ValueError) as e:
            print(f"host_phases_fit.py: {path}: {e}", file=sys.stderr)
            sys.exit(2)
    rows = [r for r in rows if r.get("model") in MODULE_CALLS or "forward_module_calls" in r]
    if len(rows) < 3:
        print("host_phases_fit.py: fewer than 3 rows without recompute of models with a module count", file=sys.stderr)
        sys.exit(2)
    names = [label_of(r) for r in rows]
    models = [r["model"] for r in rows]
    host = [r["forward_host_s"] + r["backward_host_s"] for r in rows]
    launches = [r["forward_kernels"] + r["backward_kernels"] for r in rows]
    modules = [r.get("forward_module_calls", MODULE_CALLS.get(r["model"])) for r in rows]
    forms = [("launches x one cost", [[n] for n in launches]),
             ("module calls x one cost + launches x another", [[m, n] for m, n in zip(modules, launches)])]
    if all("forward_ops" in r and "backward_nodes" in r for r in rows):
        forms += [("forward aten ops + backward launches, x one cost",
                   [[r["forward_ops"] + r["backward_kernels"]] for r in rows]),
                  ("forward aten ops x one cost + backward autograd nodes x another",
                   [[r["forward_ops"], r["backward_nodes"]] for r in rows]),
                  ("forward aten ops, backward nodes, launches, each x its cost",
                   [[r["forward_ops"], r["backward_nodes"], n] for r, n in zip(rows, launches)])]
    for label, x in forms:
        c = lstsq(x, host)
        err = [(sum(a * b for a, b in zip(xi, c)) - y) / y for xi, y in zip(x, host)]
        loo = []
        for i in range(len(x)):  # every row of the left-out model is scored by a fit without it
            keep = [j for j in range(len(x)) if models[j] != models[i]]
            ci = lstsq([x[j] for j in keep], [host[j] for j in keep])
            loo.append((sum(a * b for a, b in zip(x[i], ci)) - host[i]) / host[i])
        print(f"{label}: " + ", ".join(f"{1e6 * v:.1f} us" for v in c))
        print("  error  " + "  ".join(f"{m} {100 * e:+.1f}%" for m, e in zip(names, err)))
        print(f"  mean / max {100 * sum(map(abs, err)) / len(err):.1f}% / {100 * max(map(abs, err)):.1f}%; "
              f"each model left out {100 * sum(map(abs, loo)) / len(loo):.1f}% / {100 * max(map(abs, loo)):.1f}%")
    print_host_drift(rows)


def print_host_drift(rows):
    """Where one model was measured in several rows (two passes of one call): how far its host
    seconds moved, beside the host's speed probe (measure_host_phases.py host_launch_probe_us), and
    how well the probe follows the host's seconds per dispatch over the rows that carry both."""
    by_model = {}
    for r in rows:
        by_model.setdefault(label_of(r), []).append(r)
    for name, rs in by_model.items():
        if len(rs) < 2 or not all("host_launch_probe_us" in r for r in rs):
            continue
        host = [r["forward_host_s"] + r["backward_host_s"] for r in rs]
        probe = [r["host_launch_probe_us"] for r in rs]
        print(f"{name}: host seconds " + " -> ".join(f"{h:.4f}" for h in host) + f" (x{host[-1] / host[0]:.2f}), "
              f"probe " + " -> ".join(f"{p:.2f}" for p in probe) + f" us (x{probe[-1] / probe[0]:.2f})")
    both = [r for r in rows if "host_launch_probe_us" in r and "forward_ops" in r]
    if len(both) >= 3:
        x = [r["host_launch_probe_us"] for r in both]
        y = [(r["forward_host_s"] + r["backward_host_s"]) / (r["forward_ops"] + r["backward_kernels"]) for r in both]
        mx, my = sum(x) / len(x), sum(y) / len(y)
        sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
        sxx, syy = sum((a - mx) ** 2 for a in x), sum((b - my) ** 2 for b in y)
        if sxx > 0 and syy > 0:
            print(f"probe against host seconds per (forward op + backward launch), {len(both)} rows: "
                  f"r = {sxy / (sxx * syy) ** 0.5:.2f}; probe {min(x):.2f} .. {max(x):.2f} us")


if __name__ == "__main__":
    main()
