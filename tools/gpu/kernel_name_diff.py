#!/usr/bin/env python3
"""kernel_name_diff.py: the kernels one recipe launches beyond another's, per model and phase, from
two measure_host_phases.py --kernel-names files of the same models (docs/cost-model.md, "Autocast's
casts and the host's dispatches": what autocast adds to a bf16 step). Prints, per model, each
phase's launch totals and every kernel name whose count differs, with the difference.
    python3 tools/gpu/kernel_name_diff.py BASE.json OTHER.json
Exit status 2 on bad input (unreadable file, no --kernel-names rows, no model in both).
"""
import json
import sys


def load(path):
    try:
        rows = json.load(open(path))
    except (OSError, ValueError) as e:
        print(f"kernel_name_diff.py: {path}: {e}", file=sys.stderr)
        sys.exit(2)
    named = {(r["model"], r["seq"], r.get("gradient_checkpointing", False)): r
             for r in rows if isinstance(r, dict) and "forward_kernel_names" in r}
    if not named:
        print(f"kernel_name_diff.py: {path}: no rows with kernel names (measure_host_phases.py --kernel-names)",
              file=sys.stderr)
        sys.exit(2)
    return named


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    base, other = load(sys.argv[1]), load(sys.argv[2])
    keys = [k for k in base if k in other]
    if not keys:
        print("kernel_name_diff.py: no model, length and checkpointing measured in both files", file=sys.stderr)
        sys.exit(2)
    for key in keys:
        b, o = base[key], other[key]
        print(f"{key[0]} at {key[1]} tokens{' (recompute)' if key[2] else ''}: "
              f"{b.get('precision', 'bf16')} -> {o.get('precision', 'bf16')}")
        for phase in ("forward", "backward"):
            nb, no = b[f"{phase}_kernel_names"], o[f"{phase}_kernel_names"]
            print(f"  {phase}: {b[f'{phase}_kernels']} -> {o[f'{phase}_kernels']} launches "
                  f"({o[f'{phase}_kernels'] - b[f'{phase}_kernels']:+d})")
            for name in sorted(set(nb) | set(no), key=lambda n: -abs(no.get(n, 0) - nb.get(n, 0))):
                d = no.get(name, 0) - nb.get(name, 0)
                if d:
                    print(f"    {d:+5d}  {nb.get(name, 0):5d} -> {no.get(name, 0):5d}  {name}")


if __name__ == "__main__":
    main()
