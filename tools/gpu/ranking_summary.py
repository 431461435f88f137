"""The ranking check's helper and summary (tools/gpu/ranking_check.sh; issue 22, item 3). Stdlib only.

  ranking_summary.py flags PLAN_JSON TOP            one line per plan (the chosen one, then the
                                                     alternatives): its strategy as pinned zplan flags
  ranking_summary.py plan-line NAME PLAN_JSON TOP ARGS  the ranking.jsonl line of a scenario's plan
  ranking_summary.py run-line NAME INDEX STATUS REC the ranking.jsonl line of one run (REC: its run record)
  ranking_summary.py summary RANKING_JSONL...       per scenario: each plan's predicted and measured
                                                     tokens/s and rank, and whether the chosen plan and the
                                                     fastest predicted one are within 5% of the fastest measured

The plans of a scenario are the chosen one (plan 0) and the search's alternatives in their order. The
chosen plan need not be the fastest predicted: within the step-time model's error the search prefers
the plan with more memory free (docs/cost-model.md, "Ranking"), so both are judged.
"""
import json
import os
import sys

WITHIN = 0.05  # issue 22: the chosen plan must be within 5% of the fastest measured
GIB = 2 ** 30


def plans_of(plan_json, top):
    """[(strategy, predicted tokens/s, predicted step s, predicted peak bytes)], the chosen plan first."""
    out = [(plan_json["strategy"], plan_json["time"]["tokens_per_second"], plan_json["time"]["step_seconds"],
            plan_json["memory"]["gpu"]["peak_bytes"])]
    for a in plan_json.get("alternatives", []):
        out.append((a["strategy"], a["tokens_per_second"], a["step_seconds"], a["peak_bytes"]))
    return out[:top]


def strategy_flags(s):
    """Every strategy field pinned, as `zplan --run` takes them (one GPU: the plain framework)."""
    flags = ["--framework", "plain", "--zero", str(s["zero_stage"]),
             "--offload-optimizer", "cpu" if s["offload_optimizer"] else "none",
             "--offload-params", "cpu" if s["offload_params"] else "none",
             "--sp", str(s["sp_degree"]), "--ckpt", str(s["checkpointed_layers"])]
    if s["cpu_checkpointing"]:
        flags.append("--cpu-ckpt")
    flags += ["--loss-chunks", str(s.get("loss_chunks", 0)), "--micro-batch", str(s["micro_batch"]),
              "--grad-accum", str(s["grad_accumulation"]), "--precision", s["precision"]]
    return " ".join(flags)


def strategy_text(s, layers):
    t = f"ZeRO-{s['zero_stage']}"
    if s["offload_optimizer"]:
        t += " +offload-opt"
    if s["offload_params"]:
        t += " +offload-params"
    t += f", ckpt {s['checkpointed_layers']}/{layers}" + (" (CPU)" if s["cpu_checkpointing"] else "")
    if s["sp_degree"] > 1:
        t += f", SP {s['sp_degree']}"
    t += f", mb {s['micro_batch']} x ga {s['grad_accumulation']}, {s['precision']}"
    chunks = s.get("loss_chunks", 0)
    return t + (f", loss {chunks} chunks" if chunks > 1 else "")


def ranks(values):
    """1 = the largest; None stays None; ties keep the plans' order."""
    order = sorted((i for i, v in enumerate(values) if v is not None), key=lambda i: -values[i])
    out = [None] * len(values)
    for r, i in enumerate(order, 1):
        out[i] = r
    return out


def pct(x):
    return f"{100 * x:+.1f}%"


def verdict(name, i, measured, best):
    if measured[i] is None:
        return f"{name} (plan {i}) not measured"
    gap = measured[i] / measured[best] - 1
    ok = gap >= -WITHIN
    return f"{name} (plan {i}) at {pct(gap)} of the fastest measured: {'WITHIN' if ok else 'NOT within'} {100 * WITHIN:.0f}%"


def summarize_scenario(plan_line, runs, out):
    """Prints one scenario; returns (chosen within 5% or None when not judged, all plans measured,
    each measured plan's throughput error minus the scenario's mean error)."""
    pj = plan_line["plan"]
    layers = pj["model"]["layers"]
    plans = plans_of(pj, plan_line["top"])
    measured, peaks, notes = [], [], []
    for i in range(len(plans)):
        r = runs.get(i)
        rec = r.get("record") if r else None
        m = (rec or {}).get("measurement", {})
        tps = m.get("time", {}).get("tokens_per_second")
        ok = r is not None and r.get("status") == 0 and not m.get("oom") and tps
        measured.append(tps if ok else None)
        peaks.append(m.get("memory", {}).get("gpu", {}).get("peak_bytes") if ok else None)
        if r is None:
            notes.append("not run")
        elif not ok:
            st = r.get("status")
            notes.append("skipped (DEADLINE_S)" if st == "skipped" else f"status {st}" + (" (OOM)" if m.get("oom") else ""))
        else:
            notes.append("")
            est = rec.get("estimate", {}).get("time", {}).get("tokens_per_second")
            if est and abs(est / plans[i][1] - 1) > 0.01:  # the run predicted another plan than the search listed
                notes[-1] = f"run predicted {est:.0f} tok/s"
    predicted = [p[1] for p in plans]
    prank, mrank = ranks(predicted), ranks(measured)
    fastest_pred = prank.index(1)
    print(f"== {plan_line['scenario']}: zplan {plan_line['args']} --gpus {pj['cluster']['name']} --profile zplan "
          f"({pj.get('evaluated', '?')} candidates evaluated)", file=out)
    print(f"  {'#':>2}  {'plan':58s} {'step s':>7s} {'pred tok/s':>10s} {'rank':>4s} {'meas tok/s':>10s} {'rank':>4s} "
          f"{'tok/s err':>9s} {'peak GiB pred/meas':>18s}  note", file=out)
    for i, (s, tps, step, peak) in enumerate(plans):
        tag = ("chosen" if i == 0 else "") + (", fastest predicted" if i == fastest_pred and i == 0 else
                                              "fastest predicted" if i == fastest_pred else "")
        meas = f"{measured[i]:10.0f}" if measured[i] else f"{'-':>10s}"
        mr = f"{mrank[i]:4d}" if mrank[i] else f"{'-':>4s}"
        err = pct(tps / measured[i] - 1) if measured[i] else "-"  # predicted over measured tokens/s
        mp = f"{peaks[i] / GIB:.1f}" if peaks[i] else "-"
        note = ", ".join(x for x in (tag, notes[i]) if x)
        print(f"  {i:2d}  {strategy_text(s, layers):58s} {step:7.2f} {tps:10.0f} {prank[i]:4d} {meas} {mr} {err:>9s} "
              f"{peak / GIB:8.1f}/{mp:>9s}  {note}", file=out)
    print("  (plan 0 is the chosen plan, the others the search's next best in its order; ranks are among these plans)", file=out)
    n_measured = sum(v is not None for v in measured)
    if n_measured == 0:
        print("  no plan measured", file=out)
        return None, False, []
    best = mrank.index(1)
    print(f"  fastest measured: plan {best}, {measured[best]:.0f} tokens/s"
          + ("" if n_measured == len(plans) else f" (only {n_measured} of {len(plans)} plans measured)"), file=out)
    print("  " + verdict("chosen", 0, measured, best), file=out)
    if fastest_pred != 0:
        print("  " + verdict("fastest predicted", fastest_pred, measured, best), file=out)
    pairs = [(a, b) for a in range(len(plans)) for b in range(a + 1, len(plans))
             if measured[a] is not None and measured[b] is not None and predicted[a] != predicted[b]]
    agree = sum((predicted[a] > predicted[b]) == (measured[a] > measured[b]) for a, b in pairs)
    if pairs:
        print(f"  pairs of plans ordered as predicted: {agree} of {len(pairs)}", file=out)
    # The step-time model's error between plans (planner/search/selection.h, kPlanRankingError): what
    # is left of each plan's error once the error all plans of the scenario share is taken out.
    errors = [predicted[i] / measured[i] - 1 for i in range(len(plans)) if measured[i] is not None]
    deviations = [e - sum(errors) / len(errors) for e in errors] if len(errors) > 1 else []
    if measured[0] is None:
        return None, n_measured == len(plans), deviations
    return measured[0] / measured[best] - 1 >= -WITHIN, n_measured == len(plans), deviations


def summary(paths, out=sys.stdout):
    plan_lines, runs = [], {}
    for path in paths:
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                j = json.loads(line)
                if j["kind"] == "plan":
                    plan_lines.append(j)
                elif j["kind"] == "run":
                    runs.setdefault(j["scenario"], {})[j["index"]] = j
                elif j["kind"] == "skipped":
                    print(f"== {j['scenario']}: skipped ({j['why']})", file=out)
    judged = within = complete = 0
    deviations = []
    for p in plan_lines:
        ok, all_measured, dev = summarize_scenario(p, runs.get(p["scenario"], {}), out)
        deviations += dev
        if ok is not None:
            judged += 1
            within += ok
            complete += all_measured
        print(file=out)
    print(f"Ranking check: the chosen plan is within {100 * WITHIN:.0f}% of the fastest measured in {within} of "
          f"{judged} scenarios with a measured chosen plan ({complete} with every plan measured; "
          f"{len(plan_lines)} planned)", file=out)
    if deviations:
        rms = (sum(d * d for d in deviations) / len(deviations)) ** 0.5
        print(f"Step-time error between plans (each plan's throughput error minus its scenario's mean): "
              f"RMS {100 * rms:.1f}%, at most {100 * max(abs(d) for d in deviations):.1f}% over {len(deviations)} plans",
              file=out)


def main(argv):
    if len(argv) >= 4 and argv[1] == "flags":
        with open(argv[2]) as f:
            for s, *_ in plans_of(json.load(f), int(argv[3])):
                print(strategy_flags(s))
    elif len(argv) == 6 and argv[1] == "plan-line":
        with open(argv[3]) as f:
            plan = json.load(f)
        print(json.dumps({"kind": "plan", "scenario": argv[2], "args": argv[5], "top": int(argv[4]), "plan": plan}))
    elif len(argv) == 6 and argv[1] == "run-line":
        status = int(argv[4]) if argv[4].lstrip("-").isdigit() else argv[4]
        record = None
        if argv[5] and os.path.exists(argv[5]):
            with open(argv[5]) as f:
                record = json.load(f)
        print(json.dumps({"kind": "run", "scenario": argv[2], "index": int(argv[3]), "status": status, "record": record}))
    elif len(argv) >= 3 and argv[1] == "summary":
        summary(argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
