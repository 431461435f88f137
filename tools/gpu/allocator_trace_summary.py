#!/usr/bin/env python3
"""allocator_trace_summary.py: reads a trace written by zplan's runtime under
ZPLAN_ALLOCATOR_TRACE=FILE (runtime/train/allocator_trace.h; gzip or plain JSON lines) and prints,
per phase of each step, the segments the CUDA caching allocator took from the driver (size, and
what was allocated and reserved then), then where the first request of one size (--size-mib, default 32: the backward thread's cuBLAS
workspace on Hopper) in one phase (--in-phase, default the first backward) landed.
A diagnostic for the reserved-memory model: compare with the segments `zplan check` replays.

  python3 tools/gpu/allocator_trace_summary.py TRACE.jsonl.gz [--min-segment-mib 256] [--size-mib 32]
"""
import argparse
import gzip
import json

MIB = 2 ** 20


def read(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trace")
    ap.add_argument("--min-segment-mib", type=float, default=256.0, help="list segments at least this large")
    ap.add_argument("--size-mib", type=float, default=32.0, help="follow requests of exactly this size")
    ap.add_argument("--follow", type=int, default=1, help="how many of those requests to place")
    ap.add_argument("--in-phase", default="backward_peak (step 1)",
                    help="follow requests only in this phase, as printed (default: the first backward)")
    a = ap.parse_args()
    segments, live = {}, {}
    phase, seen = "start", {}
    allocated = reserved = 0
    followed = 0
    for e in read(a.trace):
        if "phase" in e:
            seen[e["phase"]] = seen.get(e["phase"], 0) + 1
            phase = f"{e['phase']} (step {seen[e['phase']]})"
            continue
        action, size, addr = e["action"], e["size"], e["addr"]
        if action == "segment_alloc":
            segments[addr] = size
            reserved += size
            if size >= a.min_segment_mib * MIB:
                print(f"{phase:28s} segment {size / MIB:9.1f} MiB   allocated {allocated / 2**30:7.2f} GiB"
                      f"   reserved {reserved / 2**30:7.2f} GiB")
        elif action == "segment_free":
            reserved -= segments.pop(addr, 0)
        elif action == "alloc":
            live[addr] = size
            allocated += size
            if size == int(a.size_mib * MIB) and followed < a.follow and phase == a.in_phase:
                followed += 1
                home = [(s, n) for s, n in segments.items() if s <= addr < s + n]
                where = f"segment of {home[0][1] / MIB:.1f} MiB at offset {(addr - home[0][0]) / MIB:.2f} MiB" if home else "?"
                print(f"{phase:28s}   a {a.size_mib:g} MiB request -> {where}")
        elif action == "free_completed":
            allocated -= live.pop(addr, 0)
    print(f"end: reserved {reserved / 2**30:.2f} GiB in {len(segments)} segments")


if __name__ == "__main__":
    main()
