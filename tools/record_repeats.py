#!/usr/bin/env python3
"""record_repeats.py: how far apart the measured step times of runs the model cannot tell apart lie.

Groups the run records under a folder (default tests/regression/measured) by everything the
step-time model reads: GPU, profile, world size, scenario (without its provenance: source, data,
label, command, note) and strategy. Records of one group get one prediction, so half their
relative spread, (slowest - fastest) / (slowest + fastest), is the smallest maximum error any
prediction can reach on them: a floor under the held-out maxima of docs/cost-model.md.
    python3 tools/record_repeats.py [FOLDER]
Prints one line per group of two or more records (fastest and slowest seconds, spread, floor,
files), then the count. Exit status 2 on bad input.
"""
import collections
import json
import os
import sys

PROVENANCE = ("source", "data", "label", "command", "note")


def main():
    if len(sys.argv) > 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    root = sys.argv[1] if len(sys.argv) == 2 else "tests/regression/measured"
    if not os.path.isdir(root):
        print(f"record_repeats.py: {root}: not a folder of run records", file=sys.stderr)
        sys.exit(2)
    groups = collections.defaultdict(list)
    for folder, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            if not name.endswith(".json"):
                continue
            path = os.path.join(folder, name)
            try:
                record = json.load(open(path))
                seconds = record["measurement"].get("time", {}).get("step_seconds")
            except (OSError, ValueError, KeyError, AttributeError, TypeError) as e:
                print(f"record_repeats.py: {path}: not a run record ({e})", file=sys.stderr)
                sys.exit(2)
            if not seconds:
                continue  # a run without a step time (out of memory)
            scenario = {k: v for k, v in record.get("scenario", {}).items() if k not in PROVENANCE}
            key = json.dumps([record.get("gpu"), record.get("profile"), record.get("world_size"), scenario,
                              record.get("strategy")], sort_keys=True)
            groups[key].append((seconds, os.path.relpath(path, root)))
    repeated = sorted((sorted(v) for v in groups.values() if len(v) > 1), key=lambda v: v[0][1])
    for runs in repeated:
        fastest, slowest = runs[0][0], runs[-1][0]
        print(f"{fastest:.4f} s .. {slowest:.4f} s  spread {100 * (slowest / fastest - 1):5.1f}%  "
              f"floor {100 * (slowest - fastest) / (slowest + fastest):4.1f}%  " + " | ".join(f for _, f in runs))
    print(f"{len(repeated)} groups of repeated configurations among {sum(len(v) for v in groups.values())} records")


if __name__ == "__main__":
    main()
