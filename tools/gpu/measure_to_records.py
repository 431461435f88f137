#!/usr/bin/env python3
"""measure_to_records.py: turns zplan_measure_runtime's JSON lines (tools/gpu/check.sh's
runtime_measurements.jsonl) into one run record per line, the shape `zplan validate` reads
(planner/io/run_record.cpp): scenario (model, layers, gpus, seq, attention, profile), strategy and
measurement. A model given as a config.json path is embedded as scenario.model_config (with its
layers truncated as measured), so the record does not depend on the path of the machine it ran on.

  python3 tools/gpu/measure_to_records.py OUT_DIR runtime_measurements.jsonl [--matrix families]
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GPU_BY_MARKETING_NAME = {"H100": "h100-80gb", "H200": "h200-141gb"}


def gpu_profile(name):
    for key, profile in GPU_BY_MARKETING_NAME.items():
        if key in name:
            return profile
    sys.exit(f"measure_to_records: no hardware profile for GPU '{name}' (known: {', '.join(GPU_BY_MARKETING_NAME)})")


def scenario_of(line, matrix):
    s = line["scenario"]
    out = {"gpus": f"{line['world_size']}x{gpu_profile(line['gpu'])}", "framework": "plain", "profile": line["profile"],
           "seq": s["seq"], "attention": s["attention"], "data": "synthetic uniform tokens"}
    model = s["model"]
    if model.endswith(".json"):
        # The path is the measuring machine's; the same file lives under tests/data/hf in the repo.
        local = os.path.join(ROOT, "tests", "data", "hf", os.path.basename(model))
        if not os.path.exists(local):
            sys.exit(f"measure_to_records: {model}: no {local} to embed")
        with open(local) as f:
            config = json.load(f)
        config["num_hidden_layers"] = s["layers"]
        out["model_name"] = line["model"]
        out["model_config"] = config
    else:
        out["model_name"] = model
        out["num_layers"] = s["layers"]
    # Which implementation of each mechanism ran (absent: the record predates it; planner defaults).
    for field in ("experts_implementation", "norm_implementation", "adamw_implementation",
                  "elementwise_implementation", "cross_entropy_implementation"):
        if s.get(field):
            out[field] = s[field]
    out["source"] = f"tools/gpu/check.sh MATRIX={matrix}, row {line['label']}"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("jsonl")
    ap.add_argument("--matrix", default="full", help="the check.sh matrix that measured them (written into each record)")
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    with open(a.jsonl) as f:
        lines = [json.loads(t) for t in f if t.strip()]
    for line in lines:
        # The runtime measured here offloads nothing; say so as zplan --run's records do.
        strategy = dict(line["strategy"])
        strategy.setdefault("offload_optimizer", False)
        strategy.setdefault("offload_params", False)
        record = {"profile": line["profile"], "world_size": line["world_size"], "gpu": line["gpu"],
                  "command": f"zplan_measure_runtime --label {line['label']} (tools/gpu/check.sh MATRIX={a.matrix})",
                  "scenario": scenario_of(line, a.matrix), "strategy": strategy,
                  "measurement": line["measurement"], "label": line["label"]}
        if line.get("oom"):  # validate checks the verdict of a run that ran out of memory, not its peak
            record.update({"oom": True, "failed_phase": line.get("failed_phase", ""), "error": line.get("error", "")})
        path = os.path.join(a.out_dir, line["label"] + ".json")
        with open(path, "w") as f:
            json.dump(record, f, indent=1)
            f.write("\n")
        print(f"measure_to_records: wrote {path}")


if __name__ == "__main__":
    main()
