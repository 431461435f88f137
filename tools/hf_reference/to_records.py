"""Convert measure_hf.py's hf_runs.jsonl into one run-record JSON per run (docs/run-records.md).

Each record lands in tests/regression/measured/hf/<run id>.json with profile "hf",
the scenario and strategy needed to predict the run again (the config dict as given
and as transformers resolved it), estimate null, and the measurement: peak allocated,
peak reserved, per-phase readings of every step, memory outside the allocator, and
(where the run carried the analysis pass) what autograd saved per decoder layer.

Usage: python3 tools/hf_reference/to_records.py docs/measurements/hf_raw/call2/hf_runs.jsonl \
           [--probe docs/measurements/hf_raw/call2/probe.txt] [--out tests/regression/measured/hf]
"""
import argparse, json, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402 - the default step count
from harness import breakdown_phases, gpu_profile  # noqa: E402 - record fields every harness shares


def command_of(rec):
    """The measure_hf.py command that reproduces one run: its id, and --steps when the run asked for
    other than the default (a run from before steps_requested was written: as many steps as it
    completed, unless it stopped early)."""
    default = harness.STEPS["count"]
    stopped_early = rec.get("oom") or rec.get("error") or not rec.get("steps")
    requested = rec.get("steps_requested") or (default if stopped_early else len(rec["steps"]))
    steps = "" if requested == default else " --steps %d" % requested
    return "python3 tools/hf_reference/measure_hf.py --filter '^%s$'%s" % (re.escape(rec["id"]), steps)


def capacity_from_probe(path):
    if path and os.path.exists(path):
        m = re.search(r"device .* total (\d+)", open(path).read())
        if m:
            return int(m.group(1))
    return None


def to_record(rec, capacity):
    r = rec["run"]
    cfg_in = rec.get("config_input", {})
    strategy = {
        "zero_stage": 0, "offload_optimizer": False, "offload_params": False,
        "checkpointed_layers": rec.get("checkpointed_layers",
                                       0 if r["ckpt"] == "off" else None),
        "cpu_checkpointing": bool(r.get("ckpt_offload")), "sp_degree": 1,
        "micro_batch": r["mb"], "grad_accumulation": 1, "precision": r["recipe"],
    }
    scenario = {
        "gpus": "1x" + gpu_profile(rec["versions"]["gpu"]), "framework": "plain", "profile": "hf",
        "model_name": r["model"], "model_type": cfg_in.get("model_type"),
        "model_config": cfg_in, "model_config_resolved": rec.get("config"),
        "num_parameters": rec.get("num_params"), "num_layers": rec.get("num_layers"),
        "seq": r["seq"], "attention": r["attn"], "use_cache": r["use_cache"],
        "experts_implementation": rec.get("experts_implementation"),
        "allocator_settings": r.get("alloc_conf") or "default",
        "ckpt_flags": rec.get("ckpt_flags"),
        "loop": "out = model(input_ids, labels=input_ids); out.loss.backward(); opt.step(); "
                "opt.zero_grad(set_to_none=True); `out` of step k lives until step k+1's forward returns",
    }
    steps = rec.get("steps", [])
    complete = [s for s in steps if "step_peak" in s]
    gpu = {"peak_bytes": rec.get("peak_bytes"), "reserved_bytes": rec.get("reserved_bytes"),
           "capacity_bytes": capacity,
           "baseline_allocated_bytes": rec.get("baseline_allocated"),
           "after_init": rec.get("after_init"),
           "outside_allocator_bytes": max([s["outside_allocator"] for s in complete] or
                                          [rec.get("after_init", {}).get("outside_allocator", 0)]),
           "allocator": rec.get("allocator"),
           "phases": breakdown_phases(rec, complete[-1]) if complete else [],
           "steps": steps}
    if rec.get("peak_bytes") is not None and rec.get("reserved_bytes") is not None:
        gpu["fragmentation_bytes"] = rec["reserved_bytes"] - rec["peak_bytes"]
    if "saved_tensors" in rec:
        gpu["saved_tensors"] = rec["saved_tensors"]
    out = {
        "profile": "hf", "world_size": 1, "gpu": rec["versions"]["gpu"],
        "versions": {k: rec["versions"][k] for k in ("torch", "transformers", "cuda")},
        "command": command_of(rec),
        "scenario": scenario, "strategy": strategy, "estimate": None,
        "measurement": {"memory": {"gpu": gpu},
                        "time": {"step_seconds": rec.get("step_seconds"),
                                 "tokens_per_second": rec.get("tokens_per_second"),
                                 "note": "median of steps 2-%d, CUDA events around forward+backward+step" % max(2, len(steps))}},
        "oom": rec["oom"],
    }
    if rec.get("host"):  # CPU, logical CPUs, the host's probes: us per trivial launch, per aten op (runs since 2026-12-07)
        out["host"] = rec["host"]
    for k in ("oom_phase", "oom_message", "oom_tried", "oom_allocated", "oom_phase_peak",
              "error", "error_phase", "analysis_error", "analysis_oom"):
        if rec.get(k) is not None:
            out[k] = rec[k]
    return out


def summary_table(recs):
    """Markdown table: one row per run, GiB, steady step (step 3)."""
    g = float(1 << 30)
    rows = ["| run | after_init | fwd_end | peak step1 | peak | reserved | saved/layer MiB | "
            "alloc kept/layer MiB | logits-side saved GiB | step ms |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for rec in recs:
        if rec.get("oom") or rec.get("error"):
            rows.append(f"| {rec['id']} | OOM/error in {rec.get('oom_phase') or rec.get('error_phase')} |"
                        " | | | | | | | |")
            continue
        s1, s3 = rec["steps"][0], rec["steps"][-1]
        st = rec.get("saved_tensors")
        if st:
            kept = sorted(p["alloc_retained_bytes"] for p in st["per_layer"])[len(st["per_layer"]) // 2]
            sv = f"{st['median_layer_saved_bytes'] / 2**20:.1f}"
            kp = f"{kept / 2**20:.1f}"
            post = f"{st['outside_post_bytes'] / g:.2f}"
        else:
            sv = kp = post = "-"
        rows.append(f"| {rec['id']} | {rec['after_init']['allocated'] / g:.2f} | {s3['forward_end'] / g:.2f} | "
                    f"{s1['step_peak'] / g:.2f} | {rec['peak_bytes'] / g:.2f} | {rec['reserved_bytes'] / g:.2f} | "
                    f"{sv} | {kp} | {post} | {rec['step_seconds'] * 1e3:.0f} |")
    return "\n".join(rows) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl")
    ap.add_argument("--probe", default=None)
    ap.add_argument("--out", default="tests/regression/measured/hf")
    ap.add_argument("--summary", default=None, help="also write a markdown table here")
    a = ap.parse_args()
    probe = a.probe or os.path.join(os.path.dirname(a.jsonl), "probe.txt")
    capacity = capacity_from_probe(probe)
    os.makedirs(a.out, exist_ok=True)
    n, recs = 0, []
    for line in open(a.jsonl):
        if not line.strip():
            continue
        rec = json.loads(line)
        if rec.get("tiny"):
            continue
        recs.append(rec)
        with open(os.path.join(a.out, rec["id"] + ".json"), "w") as f:
            json.dump(to_record(rec, capacity), f, indent=1)
            f.write("\n")
        n += 1
    print(f"wrote {n} records to {a.out}")
    if a.summary:
        with open(a.summary, "w") as f:
            f.write(summary_table(recs))


if __name__ == "__main__":
    main()
