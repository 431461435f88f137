"""Convert measure_dist.py's dist_runs.jsonl into run records (docs/run-records.md), one per run.

Same shape as to_records.py's single-GPU records (tests/regression/measured/hf/*.json), with
world_size = number of ranks, scenario.framework "fsdp2" | "ddp", scenario.gpus "2xh100-80gb" |
"2xh200-141gb", strategy.zero_stage 3 (FSDP2 reshard_after_forward=True), 2 (False) or 0 (DDP).
Every number under measurement.memory.gpu is the max over ranks (the busiest rank, as the
contract asks); measurement.memory.gpu.per_rank keeps each rank's own readings, and the runs that
carried the allocation-history step keep its summary under alloc_history.

Usage: python3 tools/hf_reference/to_records_dist.py docs/measurements/hf_dist_raw/dist_runs.jsonl \
           [--out tests/regression/measured/hf_dist] [--summary docs/measurements/hf_dist_raw/summary.md]
"""
import argparse, json, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import breakdown_phases, gpu_profile  # noqa: E402 - record fields every harness shares

LOOP = ("out = model(input_ids=x, labels=x); out.loss.backward(); opt.step(); "
        "opt.zero_grad(set_to_none=True); `out` of step k lives until step k+1's forward returns; "
        "each rank its own micro-batch")


def zero_stage(r):
    if r["framework"] == "fsdp2":
        return 3 if r["reshard"] else 2
    return 0


def to_record(rec):
    r = rec["run"]
    v = rec["versions"]
    world = v.get("world_size", 2)
    complete = [s for s in rec.get("steps", []) if "step_peak" in s]
    scenario = {
        "gpus": f"{world}x{gpu_profile(v['gpu'])}", "framework": r["framework"], "profile": "hf",
        "model_name": r["model"], "model_type": rec.get("config_input", {}).get("model_type"),
        "model_config": rec.get("config_input"), "model_config_resolved": rec.get("config"),
        "num_parameters": rec.get("num_params"), "num_layers": rec.get("num_layers"),
        "seq": r["seq"], "attention": rec.get("attn_implementation", "sdpa"), "use_cache": False,
        "allocator_settings": "default", "loop": LOOP,
        "optimizer": "AdamW(lr=1e-5, %s)" % rec.get("optimizer"),
        "local_param_elements": rec.get("local_param_elements"),
    }
    if r["framework"] == "fsdp2":
        scenario.update({
            "reshard_after_forward": r["reshard"],
            "root_reshard_after_forward": "fully_shard default (%s)"
                                          % v.get("fully_shard_reshard_after_forward_default"),
            "mixed_precision": {"param_dtype": "bfloat16", "reduce_dtype": "float32",
                                "autocast": False},
            "wrapping": "fully_shard on every decoder layer, then on the root model",
            "gradient_as_bucket_view": None})
    else:
        scenario.update({
            "gradient_as_bucket_view": r["gabv"], "bucket_cap_mb": 25,
            "first_bucket_bytes": v.get("ddp_first_bucket_bytes"),
            "mixed_precision": {"param_dtype": "float32", "autocast": "bfloat16"}})
    strategy = {
        "zero_stage": zero_stage(r), "offload_optimizer": False, "offload_params": False,
        "checkpointed_layers": rec.get("checkpointed_layers", 0 if r["ckpt"] == "off" else None),
        "cpu_checkpointing": False, "sp_degree": 1, "micro_batch": r["mb"],
        "grad_accumulation": 1, "precision": r["recipe"],
    }
    per_rank = []
    for pr in rec.get("per_rank", []):
        per_rank.append({k: pr.get(k) for k in (
            "rank", "peak_bytes", "reserved_bytes", "baseline_allocated", "after_build", "after_init",
            "steps", "allocator", "oom", "oom_phase", "error", "history_error")})
    gpu = {"peak_bytes": rec.get("peak_bytes"), "reserved_bytes": rec.get("reserved_bytes"),
           "capacity_bytes": v.get("gpu_total_bytes"),
           "baseline_allocated_bytes": rec.get("baseline_allocated"),
           "after_build": rec.get("after_build"), "after_init": rec.get("after_init"),
           "outside_allocator_bytes": max([s["outside_allocator"] for s in complete] or
                                          [rec.get("after_init", {}).get("outside_allocator", 0)]),
           "allocator": rec.get("allocator"),
           "phases": breakdown_phases(rec, complete[-1]) if complete else [],
           "steps": rec.get("steps", []), "per_rank": per_rank,
           "process": rec.get("process")}
    if rec.get("peak_bytes") is not None and rec.get("reserved_bytes") is not None:
        gpu["fragmentation_bytes"] = rec["reserved_bytes"] - rec["peak_bytes"]
    if "alloc_history" in rec:
        gpu["alloc_history"] = rec["alloc_history"]
    out = {
        "profile": "hf", "world_size": world, "gpu": v["gpu"],
        "versions": {k: v.get(k) for k in ("torch", "transformers", "cuda", "nccl")},
        "command": "torchrun --standalone --nproc_per_node %d tools/hf_reference/measure_dist.py "
                   "--filter '^%s$'" % (world, re.escape(rec["id"])),
        "scenario": scenario, "strategy": strategy, "estimate": None,
        "measurement": {"memory": {"gpu": gpu},
                        "time": {"step_seconds": rec.get("step_seconds"),
                                 "tokens_per_second": rec.get("tokens_per_second"),
                                 "note": ("max over ranks of the median of steps 2-%d (CUDA events "
                                          "around forward+backward+step); tokens of all ranks") % max(2, len(rec.get("steps") or []))}},
        "oom": rec["oom"],
    }
    for k in ("oom_phase", "oom_message", "oom_tried", "oom_allocated", "error", "error_phase",
              "history_error", "history_oom"):
        if rec.get(k):
            out[k] = rec[k]
    return out


def gib(x):
    return f"{x / 2**30:.2f}" if isinstance(x, (int, float)) else "-"


def summary_table(recs):
    rows = ["| framework | R | model | mb | ckpt | after_init | fwd_end | peak r0 / r1 | "
            "reserved | outside | step ms |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for rec in recs:
        r = rec["run"]
        fw = r["framework"] + (" gabv" if r.get("gabv") else "")
        R = "-" if r["reshard"] is None else str(r["reshard"])
        head = f"| {fw} | {R} | {r['model']} | {r['mb']} | {r['ckpt']} |"
        if rec.get("oom") or rec.get("error"):
            rows.append(head + f" OOM/error in {rec.get('oom_phase') or rec.get('error_phase')}: "
                        f"{(rec.get('error') or rec.get('oom_tried') or '')[:80]} | | | | | |")
            continue
        s3 = rec["steps"][-1]
        peaks = " / ".join(gib(p.get("peak_bytes")) for p in rec["per_rank"])
        rows.append(head + f" {gib(rec['after_init']['allocated'])} | {gib(s3['forward_end'])} | "
                    f"{peaks} | {gib(rec['reserved_bytes'])} | {gib(s3['outside_allocator'])} | "
                    f"{rec['step_seconds'] * 1e3:.0f} |")
    out = ["GiB; steady step (step 3); every number the max over ranks except the per-rank peaks.",
           "", "\n".join(rows), ""]
    for rec in recs:
        for i, h in enumerate(rec.get("alloc_history", {}).get("per_rank", [])[:1]):
            out += [f"### Allocation sizes, {rec['id']} (rank {i}, one extra step)", "",
                    f"{h['num_allocs']} allocations, {h['num_distinct_sizes']} distinct sizes.", "",
                    "| bytes | MiB | count | phases | streams | top call site (innermost first) |",
                    "|---|---|---|---|---|---|"]
            for e in h["largest_sizes"]:
                site = e["top_sites"][0]["site"] if e["top_sites"] else ""
                ph = ", ".join(f"{k} {v}" for k, v in e["phases"].items())
                st = ", ".join(f"{k}: {v}" for k, v in e["streams"].items())
                out.append(f"| {e['size_bytes']} | {e['size_bytes'] / 2**20:.3f} | {e['count']} | {ph} | "
                           f"{st} | `{site}` |")
            out.append("")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl")
    ap.add_argument("--out", default="tests/regression/measured/hf_dist")
    ap.add_argument("--summary", default=None, help="also write a markdown summary here")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    recs = [json.loads(line) for line in open(a.jsonl) if line.strip()]
    for rec in recs:
        with open(os.path.join(a.out, rec["id"] + ".json"), "w") as f:
            json.dump(to_record(rec), f, indent=1)
            f.write("\n")
    print(f"wrote {len(recs)} records to {a.out}")
    if a.summary:
        with open(a.summary, "w") as f:
            f.write(summary_table(recs))


if __name__ == "__main__":
    main()
