"""Summary of tools/gpu/bench_runtime_vs_hf.sh: one table row per configuration, zplan's runtime
beside Hugging Face (tokens/s, ratio, measured peak allocated, MFU), and the long-context row's
measured peak against zplan's prediction.

  python3 tools/gpu/bench_summary.py bench.jsonl [long-context run records...]

MFU = tokens/s x model FLOPs per token / the bf16 matmul rate measured in the same run. Model FLOPs
per token (no recompute counted, as MFU is usually defined; full checkpointing's extra forward is
real work MFU does not credit): 6 x the matmul weights a token passes through (attention q, k, v, o;
MLP or the router plus K active experts; lm_head) + 6 x L x T x NH x HD for causal attention
(QK^T and PV over T/2 keys on average, forward 2 x L x T x NH x HD, backward twice that).
"""
import json, os, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hf_reference"))
import matrix  # noqa: E402

GIB = 2 ** 30
CONFIG_KEY = {"qwen3-1.7b": "qwen3-1.7b", "qwen3-30b-a3b": "qwen3-30b-a3b-2l"}


def flops_per_token(model, layers, seq):
    d = matrix.MODELS[CONFIG_KEY[model]]
    c, nh, kv = d["hidden_size"], d["num_attention_heads"], d["num_key_value_heads"]
    hd = d.get("head_dim") or c // nh
    qd, kd = nh * hd, kv * hd
    attn = c * qd + 2 * c * kd + qd * c
    if d.get("num_experts"):
        mlp = c * d["num_experts"] + d["num_experts_per_tok"] * 3 * c * d["moe_intermediate_size"]
    else:
        mlp = 3 * c * d["intermediate_size"]
    weights = layers * (attn + mlp) + c * d["vocab_size"]
    return 6 * weights + 6 * layers * seq * qd


def main():
    recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    rate = next((r["bf16_flops_per_second"] for r in recs if r.get("side") == "matmul"), None)
    zp = {r["label"]: r for r in recs if r.get("profile") == "zplan"}
    hf = {r["label"]: r for r in recs if r.get("side") == "hf"}
    print(f"\nbf16 matmul rate measured: {rate / 1e12:.0f} TFLOP/s" if rate else "\n!! no matmul rate measured")
    print(f"{'row':36s} {'zplan tok/s':>11s} {'HF tok/s':>9s} {'ratio':>6s} {'zplan GiB':>9s} {'HF GiB':>8s} "
          f"{'zplan MFU':>9s} {'HF MFU':>7s}  notes")
    for label in list(dict.fromkeys(list(zp) + list(hf))):
        z, h = zp.get(label), hf.get(label)
        notes = []
        zt = z["measurement"]["time"]["tokens_per_second"] if z and not z["oom"] and not z["error"] else None
        zm = z["measurement"]["memory"]["gpu"]["peak_bytes"] / GIB if z else None
        if z and (z["oom"] or z["error"]):
            notes.append(f"zplan {'OOM in ' + z['failed_phase'] if z['oom'] else 'error'}")
        ht = h.get("tokens_per_second") if h and not h.get("oom") and not h.get("error") else None
        hm = h.get("peak_allocated_bytes", 0) / GIB if h else None
        if h and (h.get("oom") or h.get("error")):
            notes.append("HF " + ("OOM" if h.get("oom") else "error: " + h["error"][:60]))
        if h and h.get("loss_impl", "plain") != "plain":
            notes.append("HF loss: " + h["loss_impl"])
        if not z:
            notes.append("no zplan line")
        if not h:
            notes.append("no HF line")
        model = (z or {}).get("scenario", {}).get("model") or (h or {}).get("model")
        layers = (z or {}).get("scenario", {}).get("layers") or (h or {}).get("layers")
        seq = (z or {}).get("scenario", {}).get("seq") or (h or {}).get("seq")
        if not layers and model in CONFIG_KEY:
            layers = matrix.MODELS[CONFIG_KEY[model]]["num_hidden_layers"]
        fpt = flops_per_token(model, layers, seq) if model in CONFIG_KEY and layers and seq else None
        mfu = lambda t: f"{100 * t * fpt / rate:.1f}%" if t and fpt and rate else "-"  # noqa: E731
        num = lambda v, f: format(v, f) if v is not None else format("-", ">" + f.split(".")[0])  # noqa: E731
        ratio = f"{zt / ht:.2f}x" if zt and ht else "-"
        print(f"{label:36s} {num(zt, '11.0f')} {num(ht, '9.0f')} {ratio:>6s} {num(zm, '9.2f')} {num(hm, '8.2f')} "
              f"{mfu(zt):>9s} {mfu(ht):>7s}  {'; '.join(notes)}")
    for path in sys.argv[2:]:  # long-context rows: one run record each
        if not os.path.exists(path):
            print(f"\n!! long context: no run record {os.path.basename(path)} (no plan fitted, the run failed, "
                  "or the row was not run)")
            continue
        r = json.load(open(path))
        pred = r["estimate"]["memory"]["gpu"]["peak_bytes"]
        meas = r["measurement"]["memory"]["gpu"]["peak_bytes"]
        t = r["measurement"]["time"]
        print(f"\nlong context, {r['scenario']['model']} at {r['scenario']['seq']} tokens, strategy {json.dumps(r['strategy'])}:")
        print(f"  peak allocated measured {meas / GIB:.2f} GiB, predicted {pred / GIB:.2f} GiB, "
              f"error {100 * (pred - meas) / meas:+.2f}% (target within 1%); "
              f"{t['tokens_per_second']:.0f} tokens/s, step {t['step_seconds']:.2f} s"
              + (f"; OOM in {r['measurement'].get('failed_phase')}" if r["measurement"].get("oom") else ""))
        # Allocated at the end of each phase and the peak inside it, predicted against measured.
        pp = r["estimate"]["memory"]["gpu"].get("phases", {})
        mp = r["measurement"]["memory"]["gpu"].get("phases", {})
        for phase in [p for p in pp if p in mp]:
            row = []
            for key in ("allocated_bytes", "peak_allocated_bytes"):
                if pp[phase].get(key) and mp[phase].get(key):
                    row.append(f"{key.replace('_bytes', '')} {pp[phase][key] / GIB:.2f} pred / {mp[phase][key] / GIB:.2f} meas")
            print(f"    {phase:14s} " + "; ".join(row))

if __name__ == "__main__":
    main()
