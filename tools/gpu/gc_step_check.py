#!/usr/bin/env python3
"""gc_step_check.py: how much of a host-bound transformers training step is Python's garbage collector.

Call30 (docs/measurements/2026-12-07/call30) found host-bound steps moving 10-25% from one step to the
next inside one process while steps the GPU bounds repeated within 1%, and neither host probe followed
them. A full (generation 2) collection walks every Python object the process holds, and torch plus
transformers hold hundreds of thousands, so one landing inside a step adds tens of milliseconds to that
step only. This script times the same training step (forward, backward, AdamW, zero_grad; the KV cache
off, as measure_hf.py runs) with the collector as Python leaves it ("on"), with everything allocated so
far moved out of its reach ("frozen", gc.freeze()), and off ("off"), in alternating blocks, and times
every collection that lands inside a step (gc.callbacks), by generation. Beside each step's wall time
it keeps the host's part (until the last launch returns) in wall and in CPU seconds of the process
(all its threads: Python's and the autograd engine's), and the machine's stolen CPU ticks: a step
whose wall time moves while its CPU seconds stay waited for a CPU, one whose CPU seconds move did
more work.

    python3 tools/gpu/gc_step_check.py --out gc_steps.json [--models qwen3-0.6b,gpt2] [--seqs 4096,1024]
        [--checkpointing off,full] [--steps 8] [--blocks 2]

Each row: model, seq, checkpointing, mode, block, the steps' wall seconds (host-bound: the host's
time), their host wall and CPU seconds and stolen ticks, the collector's seconds and collections by
generation inside each step, and the objects the collector tracks."""
import argparse
import gc
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hf_reference"))


class CollectorClock:
    """Seconds and counts of the collections between reset() and read(), by generation."""

    def __init__(self):
        self.started = None
        self.reset()
        gc.callbacks.append(self.callback)

    def reset(self):
        self.seconds = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]

    def callback(self, phase, info):
        if phase == "start":
            self.started = time.perf_counter()
        elif self.started is not None:
            g = info["generation"]
            self.seconds[g] += time.perf_counter() - self.started
            self.count[g] += 1
            self.started = None


def steal_ticks():
    """The whole machine's stolen CPU time so far (/proc/stat, USER_HZ ticks): time a virtual machine's
    CPUs were ready to run but the hypervisor ran something else."""
    try:
        with open("/proc/stat") as f:
            return int(f.readline().split()[8])
    except (OSError, IndexError, ValueError):
        return -1


def summary_line(r):
    ms = lambda xs: 1e3 * statistics.median(xs)  # noqa: E731
    gen2 = sum(c[2] for c in r["gc_collections_by_generation"])
    gen2_ms = 1e3 * sum(c[2] for c in r["gc_seconds_by_generation"])
    return (f"{r['model']} {r['seq']} ckpt={'full' if r['gradient_checkpointing'] else 'off'} {r['mode']:6s} "
            f"block {r['block']}: step {ms(r['step_wall_s']):.1f} ms [{1e3 * min(r['step_wall_s']):.1f}-"
            f"{1e3 * max(r['step_wall_s']):.1f}], host wall {ms(r['host_wall_s']):.1f}, host cpu "
            f"{ms(r['host_cpu_s']):.1f} [{1e3 * min(r['host_cpu_s']):.1f}-{1e3 * max(r['host_cpu_s']):.1f}], "
            f"stolen ticks {sum(r['steal_ticks'])}, full collections {gen2} ({gen2_ms:.1f} ms), "
            f"young collections {sum(c[0] + c[1] for c in r['gc_collections_by_generation'])}, "
            f"tracked objects {r['tracked_objects']}")


def measure(model_name, seq, ckpt, steps, blocks, clock):
    import torch
    from measure_host_phases import build_training_model
    model, ids = build_training_model(model_name, seq, ckpt, torch.bfloat16)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def step():
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    rows = []
    for block in range(blocks):
        for mode in ("on", "frozen", "off"):
            gc.enable()
            if mode == "frozen":
                gc.freeze()
            elif mode == "off":
                gc.disable()
            walls, host_walls, host_cpus, steals, gc_s, gc_n = [], [], [], [], [], []
            for _ in range(steps):
                torch.cuda.synchronize()
                clock.reset()
                steal0 = steal_ticks()
                c0 = time.process_time()
                t0 = time.perf_counter()
                step()
                t1 = time.perf_counter()
                c1 = time.process_time()
                torch.cuda.synchronize()
                walls.append(time.perf_counter() - t0)
                host_walls.append(t1 - t0)
                host_cpus.append(c1 - c0)
                steals.append(steal_ticks() - steal0)
                gc_s.append(list(clock.seconds))
                gc_n.append(list(clock.count))
            gc.enable()
            if mode == "frozen":
                gc.unfreeze()
            rows.append({"model": model_name, "seq": seq, "gradient_checkpointing": bool(ckpt), "mode": mode,
                         "block": block, "step_wall_s": walls, "median_step_wall_s": statistics.median(walls),
                         "host_wall_s": host_walls, "host_cpu_s": host_cpus, "steal_ticks": steals,
                         "gc_seconds_by_generation": gc_s, "gc_collections_by_generation": gc_n,
                         "tracked_objects": len(gc.get_objects()), "frozen_objects": gc.get_freeze_count()})
            print(summary_line(rows[-1]), flush=True)
    del model, opt
    gc.collect()
    torch.cuda.empty_cache()
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default="qwen3-0.6b,gpt2")
    ap.add_argument("--seqs", default="4096,1024")
    ap.add_argument("--checkpointing", default="off,full")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--blocks", type=int, default=2)
    a = ap.parse_args()
    import matrix
    models = [m for m in a.models.split(",") if m]
    unknown = [m for m in models if m not in matrix.MODELS]
    if unknown or a.steps < 1 or a.blocks < 1:
        print(f"gc_step_check.py: unknown models {unknown} or steps/blocks below 1", file=sys.stderr)
        sys.exit(2)
    seqs = [int(s) for s in a.seqs.split(",") if s]
    ckpts = [c == "full" for c in a.checkpointing.split(",") if c]
    clock = CollectorClock()
    rows = []
    for m in models:
        for seq in seqs:
            for ckpt in ckpts:
                rows += measure(m, seq, ckpt, a.steps, a.blocks, clock)
                with open(a.out, "w") as f:  # rewritten after each configuration: a cut-off run keeps what ran
                    json.dump({"gc_thresholds": gc.get_threshold(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
