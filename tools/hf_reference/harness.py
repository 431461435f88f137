"""What every measurement harness shares, so the reference data cannot drift between them.

measure_hf.py (one GPU), measure_dist.py (FSDP2/DDP), measure_deepspeed.py and deepspeed_run.py
(DeepSpeed), tools/gpu/bench_hf_train.py and the converters to_records*.py read the allocator, build
models and write record fields through these functions only. torch and transformers are imported
inside the functions that need them, so `--list`, `--help` and the converters run without them.

Dry runs (measure_dist.py --dry-run: CPU + gloo) set DRY with set_dry_run(True): every allocator
reading is then 0 and nothing touches CUDA.
"""
import sys
import os, re, time, traceback

T0 = time.time()  # the harness's start: log time stamps and --deadline-s count from here
DRY = False
_LOG_FILE = None


# ---------------------------------------------------------------- logging and output
def out_dir():
    """Where results go: $OUT, or ./out."""
    return os.environ.get("OUT", "out")


def open_log(directory):
    """Also append every log line to DIRECTORY/log.txt (the console may be cut off)."""
    global _LOG_FILE
    _LOG_FILE = open(os.path.join(directory, "log.txt"), "a")


def log(msg, tag=""):
    """'[  12.3s<tag>] msg' on stdout, flushed, and in log.txt once open_log was called."""
    line = f"[{time.time() - T0:7.1f}s{tag}] {msg}"
    print(line, flush=True)
    if _LOG_FILE:
        _LOG_FILE.write(line + "\n")
        _LOG_FILE.flush()


def short(rec):
    """One log line per run: the failure, or the last step's readings in GiB. Multi-rank runs
    (a `per_rank` list) show each rank's peak and the memory outside the allocator."""
    g = 1 << 30
    if rec.get("error"):
        return f"ERROR in {rec['error_phase']}: {rec['error'][:300]}"
    if rec["oom"]:
        return f"OOM in {rec['oom_phase']} (tried {rec['oom_tried']})"
    s = rec["steps"][-1]
    ranks = rec.get("per_rank")
    peak = ("/".join(f"{x['peak_bytes'] / g:.2f}" for x in ranks) if ranks is not None
            else f"{rec['peak_bytes'] / g:.2f}")
    outside = f" out {s['outside_allocator'] / g:.2f}" if ranks is not None else ""
    sv = rec.get("saved_tensors", {}).get("median_layer_saved_bytes")
    return (f"init {rec['after_init']['allocated'] / g:.2f} fwd_end {s['forward_end'] / g:.2f} "
            f"peak {peak} res {rec['reserved_bytes'] / g:.2f}{outside} GiB "
            f"step {rec['step_seconds'] * 1e3:.0f} ms"
            + (f" saved/layer {sv / 2**20:.1f} MiB" if sv is not None else ""))


def error_text(e):
    """An exception as a record field: type and message, cut to 1500 characters."""
    return f"{type(e).__name__}: {e}"[:1500]


def traceback_text():
    """The current exception's traceback, its last 3000 characters."""
    return traceback.format_exc()[-3000:]


def oom_tried(e):
    """'2.00 GiB' from torch's out-of-memory message, or None."""
    m = re.search(r"Tried to allocate ([\d.]+ [GMK]iB)", str(e))
    return m.group(1) if m else None


# ---------------------------------------------------------------- allocator readings
def set_dry_run(flag):
    global DRY
    DRY = bool(flag)


# Steps per run: step 1 warms up, the record's step time is the median of the rest. With two timed
# steps the median is their mean, so one step still warming up (a collective's first use, the
# allocator growing) moves it by half its excess: zplan validate sets such records aside ("not
# steady", docs/cost-model.md "Unsteady records"). Three timed steps let the median pass over one.
STEPS = {"count": 3}
STEPS_HELP = "optimizer steps per run (>= 2); the first warms up, the step time is the median of the rest"


def set_steps(n):
    if n < 2:
        print(f"--steps must be at least 2 (the first step only warms up), got {n}", file=sys.stderr)
        sys.exit(2)
    STEPS["count"] = int(n)


def mem():
    """The caching allocator's allocated and reserved bytes, now and peak since reset_peak()."""
    import torch
    if DRY:
        return {"allocated": 0, "peak": 0, "reserved": 0, "peak_reserved": 0}
    return {"allocated": torch.cuda.memory_allocated(), "peak": torch.cuda.max_memory_allocated(),
            "reserved": torch.cuda.memory_reserved(), "peak_reserved": torch.cuda.max_memory_reserved()}


def allocated():
    import torch
    return 0 if DRY else torch.cuda.memory_allocated()


def device_used():
    """Bytes in use on the device (total - free): the allocator's plus everything outside it."""
    import torch
    if DRY:
        return 0
    free, total = torch.cuda.mem_get_info()
    return total - free


def reset_peak():
    import torch
    if not DRY:
        torch.cuda.reset_peak_memory_stats()


def sync():
    import torch
    if not DRY:
        torch.cuda.synchronize()


def readings_with_outside():
    """mem() plus device_used and outside_allocator (device_used - reserved): the after_init field."""
    r = {**mem(), "device_used": device_used()}
    r["outside_allocator"] = r["device_used"] - r["reserved"]
    return r


ALLOCATOR_STAT_KEYS = ("num_alloc_retries", "num_ooms", "num_device_alloc", "num_device_free",
                       "inactive_split_bytes.all.current")


def allocator_stats():
    """The allocator counters a record keeps (retries, OOMs, cudaMalloc/cudaFree calls, inactive splits)."""
    import torch
    ms = torch.cuda.memory_stats()
    return {k: ms.get(k) for k in ALLOCATOR_STAT_KEYS}


# ---------------------------------------------------------------- models
def config_from_dict(d):
    """A transformers config from a matrix.py-style dict (model_type plus config fields)."""
    import transformers
    kw = {k: v for k, v in d.items() if k != "model_type"}
    if hasattr(transformers.AutoConfig, "for_model"):
        return transformers.AutoConfig.for_model(d["model_type"], **kw)
    return transformers.CONFIG_MAPPING[d["model_type"]](**kw)


def make_config(r, tiny=False):
    """(the config dict as given, the transformers config) of run r's model; tiny: matrix.py's
    TINY_OVERRIDES (smoke and dry runs). GPT-2's n_positions grows to the run's sequence."""
    import matrix
    d = dict(matrix.MODELS[r["model"]])
    if tiny:
        d.update(matrix.TINY_OVERRIDES[r["model"]])
    if d["model_type"] == "gpt2":
        d["n_positions"] = max(d["n_positions"], r["seq"])
    return d, config_from_dict(d)


def decoder_layers(model):
    """The decoder layer list of a causal LM (Llama/Qwen/Gemma, GPT-2, OPT layouts)."""
    for path in ("model.layers", "transformer.h", "model.decoder.layers"):
        obj = model
        try:
            for p in path.split("."):
                obj = getattr(obj, p)
            return list(obj)
        except AttributeError:
            continue
    raise RuntimeError("decoder layer list not found")


class Bf16MasterOptimizer:
    """DeepSpeed BF16 recipe (and zplan's runtime bf16 recipe): bf16 params, fp32 master copies
    updated by fused AdamW. fp32 grads are allocated after backward and freed after the step."""

    def __init__(self, params, lr):
        import torch
        self.params = [p for p in params if p.requires_grad]
        self.masters = [p.detach().to(torch.float32) for p in self.params]
        self.opt = torch.optim.AdamW(self.masters, lr=lr, fused=True)

    def step(self):
        import torch
        for p, m in zip(self.params, self.masters):
            m.grad = p.grad.to(torch.float32) if p.grad is not None else None
        self.opt.step()
        with torch.no_grad():
            for p, m in zip(self.params, self.masters):
                p.copy_(m)
        for m in self.masters:
            m.grad = None

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None


# ---------------------------------------------------------------- record fields
def _gpu_profile_names():
    """(profile name, [device names]) of every hardware/gpus/*.yaml: its display_name and aliases."""
    import glob
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "hardware", "gpus")
    out = []
    for path in sorted(glob.glob(os.path.join(root, "*.yaml"))):
        fields = {}
        with open(path) as f:
            for line in f:
                m = re.match(r"^(name|display_name|aliases):\s*(.*?)\s*(#.*)?$", line)
                if m:
                    fields[m.group(1)] = m.group(2)
        names = [fields.get("display_name", "")]
        names += [a.strip().strip('"') for a in fields.get("aliases", "").strip("[]").split(",")]
        out.append((fields.get("name", ""), [n for n in names if n]))
    return out


def host_launch_probe_us(launches=20000, repeats=5):
    """How fast this host dispatches: the host's microseconds per launch of a trivial CUDA op
    (x.add_(1) on one element, nothing waits for the GPU), the median of `repeats` rounds. One lent
    host's seconds for the same model moved 0.74-1.14x between two passes of one call, and this
    probe ranged 6.8-14.2 us in it (call29, docs/cost-model.md "Autocast's casts and the host's
    dispatches"); it followed the host's seconds only loosely there (r = 0.43), so records keep it
    beside each host-bound step to find out whether it explains the step's drift."""
    import statistics
    import torch
    x = torch.zeros(1, device="cuda")
    for _ in range(launches // 10):
        x.add_(1)
    torch.cuda.synchronize()
    rounds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(launches):
            x.add_(1)
        t1 = time.perf_counter()
        torch.cuda.synchronize()
        rounds.append(1e6 * (t1 - t0) / launches)
    return statistics.median(rounds)


def host_op_probe_us(blocks=400, repeats=5):
    """How fast this host runs a training step's Python: microseconds per aten op of a tiny autograd
    graph called from Python (linear, silu, mul, add on 8 x 64 CUDA tensors, then its backward), the
    median of `repeats` rounds, timed until backward() returns (the GPU's work on tensors this small is
    negligible). Unlike the launch probe it pays what transformers' forward pays per op: Python frames,
    the dispatcher, autograd's graph recording, and the backward engine's nodes (call29: the forward's
    host seconds follow the aten ops Python calls). Call30 found it moving 33-61 us within one call
    and following host-bound steps no better than the launch probe (r = 0.33 against 0.18,
    docs/cost-model.md "Call30")."""
    import statistics
    import torch
    w = torch.randn(64, 64, device="cuda", requires_grad=True)
    x0 = torch.randn(8, 64, device="cuda", requires_grad=True)
    ops_per_block = 4  # linear, silu, mul, add

    def run():
        x = x0
        for _ in range(blocks):
            y = torch.nn.functional.linear(x, w)
            x = torch.nn.functional.silu(y) * 0.5 + x
        x.sum().backward()

    run()
    torch.cuda.synchronize()
    rounds = []
    for _ in range(repeats):
        w.grad = None
        x0.grad = None
        t0 = time.perf_counter()
        run()
        t1 = time.perf_counter()
        torch.cuda.synchronize()
        rounds.append(1e6 * (t1 - t0) / (blocks * ops_per_block))
    return statistics.median(rounds)


def host_description(launch_probe=False):
    """The host a run's step time depends on where the step is host-bound (Python dispatch, launches):
    the CPU model (first 'model name' of /proc/cpuinfo), the logical CPUs this process sees, and with
    launch_probe the host's microseconds per trivial launch (host_launch_probe_us) and per aten op of
    a tiny training graph (host_op_probe_us)."""
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    out = {"cpu": cpu, "logical_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()}
    if launch_probe:
        out["launch_probe_us"] = host_launch_probe_us()
        out["op_probe_us"] = host_op_probe_us()
    return out


def gpu_profile(name):
    """zplan's GPU profile for a CUDA device name (torch.cuda.get_device_name()): the profile whose
    display_name or alias is the device name (case-insensitive), else the device name itself, which
    zplan then reports as an unknown GPU instead of predicting it as another one."""
    for profile, names in _gpu_profile_names():
        if any(n.lower() == name.strip().lower() for n in names):
            return profile
    return name


def breakdown_phases(rec, step):
    """The steady step in MemoryBreakdown's phase order (allocated at the boundary, peak inside)."""
    ai = rec["after_init"]
    return [
        {"phase": "after_init", "allocated_bytes": ai["allocated"], "peak_allocated_bytes": ai["peak"]},
        {"phase": "forward_end", "allocated_bytes": step["forward_end"], "peak_allocated_bytes": step["forward_peak"]},
        {"phase": "backward_peak", "allocated_bytes": step["after_backward"], "peak_allocated_bytes": step["backward_peak"]},
        {"phase": "optimizer_step", "allocated_bytes": step["after_optimizer"], "peak_allocated_bytes": step["optimizer_peak"]},
        {"phase": "step_end", "allocated_bytes": step["after_optimizer"], "peak_allocated_bytes": step["step_peak"]},
    ]
