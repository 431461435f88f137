#!/usr/bin/env python3
"""run_records_to_set.py: copy `zplan --run --run-out` records into a regression set
(tests/regression/measured/SET/) so that `zplan validate` and `zplan calibrate` read them.

A run of a model cut to N layers names it "NAME-Nl" (a model file beside the built-ins, as the GPU
scripts write them): the record gets `model` NAME and `model_layers` N when NAME is a built-in
(models/NAME.yaml). A run from a config.json needs that config in the record: `--config
NAME-Nl=PATH` puts PATH's JSON, with num_hidden_layers N, in `scenario.model_config`. Every record
gets `source` (where it came from, and --note).

zplan-run's record keeps the mean of steps 2-N, not each step. Where the run's log lies beside its
record (same name, .log: the GPU scripts write both), each step's seconds are read from its
"[zplan-run] step k/N | ... | X tok/s" line (this rank's tokens per step / X; X is printed to the
token) into `measurement.memory.gpu.steps`, as the Hugging Face records hold them, so that
`zplan validate` and `zplan calibrate` can tell a step time that was still falling (docs/cost-model.md,
"Unsteady records"). The recorded step time is not changed.
    python3 tools/gpu/run_records_to_set.py OUT_DIR/loop_*.json --set zplan_expert_loop_h100 \\
        --note "tools/gpu/expert_loop_check.sh, call22 of 2026-12-07" \\
        --config qwen1.5-moe-a2.7b-4l=tests/data/hf/qwen1.5-moe-a2.7b.json
Exit status 2 on bad input (a record that is not a run record, a model neither built in nor given).
"""
import argparse
import json
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def fail(msg):
    print(f"run_records_to_set.py: {msg}", file=sys.stderr)
    sys.exit(2)


STEP_LINE = re.compile(r"\[zplan-run\] step (\d+)/\d+ \|.*\| (\d+) tok/s \|")


def steps_from_log(rec, log_path):
    """[{"step": k, "step_seconds": s}] from the run's log, or None when it has no step lines."""
    t = rec.get("measurement", {}).get("time") or {}
    tokens_per_step = (t.get("tokens_per_second") or 0) * (t.get("step_seconds") or 0)
    if tokens_per_step <= 0:
        return None
    steps = []
    with open(log_path) as f:
        for line in f:
            m = STEP_LINE.search(line)
            if m and int(m.group(2)) > 0:
                steps.append({"step": int(m.group(1)), "step_seconds": tokens_per_step / int(m.group(2))})
    return steps or None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("records", nargs="+", help="run records (JSON) written by zplan --run --run-out")
    ap.add_argument("--set", required=True, help="folder name under tests/regression/measured")
    ap.add_argument("--note", default="", help="appended to each record's source")
    ap.add_argument("--config", action="append", default=[], help="NAME-Nl=config.json for models that are not built in")
    a = ap.parse_args()
    configs = {}
    for c in a.config:
        name, sep, path = c.partition("=")
        if not sep or not os.path.isfile(path):
            fail(f"--config {c}: expected NAME-Nl=PATH of a config.json")
        configs[name] = path
    out_dir = os.path.join(ROOT, "tests", "regression", "measured", a.set)
    for path in a.records:
        try:
            rec = json.load(open(path))
        except (OSError, ValueError) as e:
            fail(f"{path}: {e}")
        if not isinstance(rec, dict) or "scenario" not in rec or "measurement" not in rec:
            fail(f"{path}: not a run record (no scenario or measurement)")
        sc = rec["scenario"]
        model = sc.get("model", "")
        cut = re.fullmatch(r"(.+)-(\d+)l", model)
        if model in configs:
            cfg = json.load(open(configs[model]))
            if cut:
                cfg["num_hidden_layers"] = int(cut.group(2))
            sc["model_config"] = cfg
            sc["model_name"] = model
            sc.pop("model", None)
        elif os.path.isfile(os.path.join(ROOT, "models", model + ".yaml")):
            pass
        elif cut and os.path.isfile(os.path.join(ROOT, "models", cut.group(1) + ".yaml")):
            sc["model"] = cut.group(1)
            sc["model_layers"] = int(cut.group(2))
        else:
            fail(f"{path}: model '{model}' is not built in; give --config {model}=PATH")
        rec["source"] = f"{os.path.basename(path)} (zplan --run)" + (f", {a.note}" if a.note else "")
        # The command as the GPU machine ran it names its folders; the record keeps the names the
        # scripts give them ($SCRATCH for the build and cut models, $OUT for the outputs).
        cmd = rec.get("command")
        if isinstance(cmd, str):
            scratch = re.search(r"(\S+)/build/tools/zplan-run", cmd)
            if scratch:
                cmd = cmd.replace(scratch.group(1) + "/", "$SCRATCH/")
            out = re.search(r"--run-out (\S+)/[^/\s]+", cmd)
            if out:
                cmd = cmd.replace(out.group(1) + "/", "$OUT/")
            rec["command"] = cmd
        log = os.path.splitext(path)[0] + ".log"
        gpu = rec["measurement"].get("memory", {}).get("gpu")
        if os.path.isfile(log) and isinstance(gpu, dict) and "steps" not in gpu:
            steps = steps_from_log(rec, log)
            if steps:
                gpu["steps"] = steps
                rec["source"] += f"; per-step seconds from {os.path.basename(log)}"
        os.makedirs(out_dir, exist_ok=True)
        dest = os.path.join(out_dir, os.path.basename(path))
        with open(dest, "w") as f:
            json.dump(rec, f, indent=1)
            f.write("\n")
        print(f"{path} -> {os.path.relpath(dest, ROOT)}")


if __name__ == "__main__":
    main()
