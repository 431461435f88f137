#!/usr/bin/env python3
"""host_device_overlap_fit.py: how the host's dispatch and the GPU's work overlap in a training
step, measured directly rather than through fitted step times (docs/cost-model.md, "Call26").

Reads rows of tools/gpu/measure_host_phases.py (a sweep of lengths: the host's work stays, the
GPU's grows) and compares each row's step_wall_s (forward + backward, unsynchronised) with
    host   = forward_host_s + backward_host_s   (the host's launching, each phase from an idle GPU)
    device = step_device_busy_s                  (the union of the step's kernel intervals)
combined as (host^p + device^p)^(1/p), the form of planner/cost/host_device_overlap.h, for several
p and for the max. It prints the error of each p over every row and over the rows where neither
side is below 40% of the other (only there does p matter), and the GPU's idle seconds per kernel
in the rows the GPU bounds: (wall - device) / kernels.
    python3 tools/gpu/host_device_overlap_fit.py docs/measurements/2026-12-07/call26/overlap_sweep.json
Exit status 2 on bad input.
"""
import json
import statistics
import sys

NORMS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, "max")
BALANCED = 0.4  # smaller side / larger side at least this: both sides matter
FIELDS = ("forward_host_s", "backward_host_s", "step_device_busy_s", "step_wall_s", "forward_kernels",
          "backward_kernels")


def combined(host, device, p):
    return max(host, device) if p == "max" else (host ** p + device ** p) ** (1.0 / p)


def error_line(label, errors):
    if not errors:
        return f"  {label}: no rows"
    mean = 100 * statistics.fmean(abs(e) for e in errors)
    worst = 100 * max(abs(e) for e in errors)
    bias = 100 * statistics.fmean(errors)
    return f"  {label}: mean {mean:.1f}%  max {worst:.1f}%  mean signed {bias:+.1f}%  ({len(errors)} rows)"


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        rows = json.load(open(sys.argv[1]))
        if not isinstance(rows, list):
            raise ValueError("expected a JSON list of measure_host_phases.py rows")
    except (OSError, ValueError) as e:
        print(f"host_device_overlap_fit.py: {sys.argv[1]}: {e}", file=sys.stderr)
        sys.exit(2)
    usable = [r for r in rows if isinstance(r, dict) and all(isinstance(r.get(k), (int, float)) for k in FIELDS)
              and r["step_wall_s"] > 0]
    if len(usable) < 2:
        print(f"host_device_overlap_fit.py: {sys.argv[1]}: {len(usable)} rows with {', '.join(FIELDS)} "
              "(measure_host_phases.py writes step_device_busy_s since call26); need at least 2", file=sys.stderr)
        sys.exit(2)
    # Per row: the row, the host's seconds, the GPU's, the wall's.
    sides = [(r, r["forward_host_s"] + r["backward_host_s"], r["step_device_busy_s"], r["step_wall_s"]) for r in usable]
    print(f"{'model':<14}{'seq':>6}{'host s':>9}{'device s':>10}{'wall s':>9}  {'p=2':>7}  {'max':>7}")
    for r, host, device, wall in sides:
        print(f"{str(r.get('model', '?')):<14}{r.get('seq', 0):>6}{host:>9.4f}{device:>10.4f}{wall:>9.4f}  "
              f"{100 * (combined(host, device, 2.0) / wall - 1):>+6.1f}%  {100 * (combined(host, device, 'max') / wall - 1):>+6.1f}%")
    print("wall predicted as (host^p + device^p)^(1/p):")
    for p in NORMS:
        every, balanced = [], []
        for _, host, device, wall in sides:
            e = combined(host, device, p) / wall - 1
            every.append(e)
            if min(host, device) >= BALANCED * max(host, device):
                balanced.append(e)
        label = "max" if p == "max" else f"p={p:g}"
        print(error_line(f"{label:<6} every row", every))
        print(error_line(f"{label:<6} balanced ", balanced))
    # Where the GPU bounds the step: what the wall adds to its busy time, per kernel.
    gaps = [(wall - device) / (r["forward_kernels"] + r["backward_kernels"]) for r, host, device, wall in sides if device >= host]
    if gaps:
        print(f"GPU idle per kernel where the GPU bounds the step: median {1e6 * statistics.median(gaps):.2f} us, "
              f"range {1e6 * min(gaps):.2f}-{1e6 * max(gaps):.2f} us ({len(gaps)} rows)")
    else:
        print("GPU idle per kernel: no row where the GPU bounds the step")


if __name__ == "__main__":
    main()
