"""Hugging Face side of tools/gpu/bench_runtime_vs_hf.sh: trains one configuration with
transformers + PyTorch and appends one JSON line (tokens/s, peak allocated/reserved) to --out.

Same work as zplan's runtime row (tools/gpu/measure_runtime.cpp): random weights built on the GPU
from the public config dict in tools/hf_reference/matrix.py (a MoE model cut to --layers), random
token ids, micro-batch 1, SDPA, and the bf16 recipe of zplan's runtime: bf16 parameters, fp32
masters updated by fused AdamW (Bf16MasterOptimizer of tools/hf_reference/harness.py). Differences
from zplan's runtime that remain: HF's checkpointing is torch.utils.checkpoint (non-reentrant, HF's
default) where zplan's is reentrant; HF shifts the labels inside the loss (zplan's targets come
shifted), the same tokens either way.

--loss chunked:N: Liger-Kernel's fused linear cross-entropy when the liger_kernel package is
importable (patched into the model class, only the loss path: no RMSNorm/SwiGLU/RoPE kernels);
otherwise this file's own chunked linear cross-entropy (ChunkedLinearCE below: N token chunks,
gradients computed in forward, the mechanism of runtime/model/chunked_loss.h), on the hidden
states of model.model. The JSON line says which ("loss_impl").

  python3 tools/gpu/bench_hf_train.py --model qwen3-1.7b --seq 4096 --loss plain --out b.jsonl
Exit status: 0 measured (an OOM is reported in the line, with exit 3), 2 bad input.
"""
import argparse, inspect, json, os, sys, time, traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hf_reference"))
import matrix  # noqa: E402
from harness import Bf16MasterOptimizer, config_from_dict  # noqa: E402 - shared with measure_hf.py

# bench model name -> (matrix.py config key, layer count override or None)
MODELS = {"qwen3-1.7b": ("qwen3-1.7b", None), "qwen3-30b-a3b": ("qwen3-30b-a3b-2l", None)}


def chunked_linear_ce_class():
    import torch

    class ChunkedLinearCE(torch.autograd.Function):
        """mean cross-entropy of (h @ w.T) against y (-100 ignored), in `chunks` token slices; the
        gradients of h and w are computed slice by slice in forward and returned in backward."""

        @staticmethod
        def forward(ctx, h, w, y, chunks):
            n = h.shape[0]
            valid = (y != -100).float()
            inv = valid.sum().reciprocal()
            gh = torch.empty_like(h)
            gw = torch.zeros_like(w)
            total = torch.zeros((), device=h.device, dtype=torch.float32)
            rows = (n + chunks - 1) // chunks
            for s in range(0, n, rows):
                hc, keep = h[s:s + rows], valid[s:s + rows]
                yc = y[s:s + rows].clamp_min(0).unsqueeze(1)
                z = (hc @ w.t()).float()
                lse = torch.logsumexp(z, dim=1)
                total += ((lse - z.gather(1, yc).squeeze(1)) * keep).sum()
                z.sub_(lse.unsqueeze(1)).exp_()
                z.scatter_add_(1, yc, -keep.unsqueeze(1))
                z.mul_((keep * inv).unsqueeze(1))
                g = z.to(h.dtype)
                del z
                gh[s:s + rows] = g @ w
                gw.addmm_(g.t(), hc)
            ctx.save_for_backward(gh, gw)
            return total * inv

        @staticmethod
        def backward(ctx, go):
            gh, gw = ctx.saved_tensors
            return gh * go, gw * go, None, None

    return ChunkedLinearCE


def build(a):
    import torch, transformers
    key, _ = MODELS[a.model]
    d = dict(matrix.MODELS[key])
    if a.layers:
        d["num_hidden_layers"] = a.layers
    d["use_cache"] = False
    loss_impl = "plain"
    if a.loss != "plain":
        try:
            import liger_kernel.transformers as lk
            patch = lk.apply_liger_kernel_to_qwen3_moe if d["model_type"] == "qwen3_moe" else lk.apply_liger_kernel_to_qwen3
            # Only the loss path: every other kernel this version's patch function knows is left off.
            wanted = dict(rope=False, rms_norm=False, swiglu=False, cross_entropy=False, fused_linear_cross_entropy=True)
            known = inspect.signature(patch).parameters
            patch(**{k: v for k, v in wanted.items() if k in known})
            loss_impl = "liger_fused_linear_cross_entropy"
        except (ImportError, AttributeError):  # no liger_kernel, or one without this model
            loss_impl = "chunked_py"
    cfg = config_from_dict(d)
    with torch.device("cuda"):
        model = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16, attn_implementation="sdpa")
    model.train()
    if a.ckpt == "full":
        model.gradient_checkpointing_enable()
    return model, cfg, loss_impl


def kernel_profiler(path):
    """A started torch.profiler over CPU and CUDA activity when a kernel profile is asked for."""
    if not path:
        return None
    import torch
    acts = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    profiler = torch.profiler.profile(activities=acts)
    profiler.__enter__()
    return profiler


def write_kernel_profile(profiler, path, steps, wall_seconds):
    """Kineto's device events by kernel name: the same rows zplan's tools/gpu/kernel_profile.cpp writes."""
    profiler.__exit__(None, None, None)
    totals = {}
    for event in profiler.profiler.kineto_results.events():
        if "CUDA" not in str(event.device_type()):  # DeviceType.CUDA: kernels, memcpy, memset
            continue
        launches, ns = totals.get(event.name(), (0, 0))
        totals[event.name()] = (launches + 1, ns + event.duration_ns())
    with open(path, "w") as f:
        f.write(f"# steps {steps} wall_seconds {wall_seconds}\n")
        for name in sorted(totals):
            f.write(f"{name}\t{totals[name][0]}\t{totals[name][1]}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=sorted(MODELS))
    ap.add_argument("--layers", type=int, default=0)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--ckpt", choices=["none", "full"], default="none")
    ap.add_argument("--loss", default="plain", help="plain or chunked:N")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--label", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--kernel-profile", default="",
                    help="write each GPU kernel's launches and time over all steps to this TSV "
                         "(the format of zplan_measure_runtime --kernel-profile; tools/gpu/kernel_summary.py)")
    a = ap.parse_args()
    chunks = 0
    if a.loss != "plain":
        if not a.loss.startswith("chunked:") or not a.loss[8:].isdigit() or int(a.loss[8:]) < 1:
            print(f"--loss: expected plain or chunked:N (N >= 1), got {a.loss}", file=sys.stderr)
            return 2
        chunks = int(a.loss[8:])
    import torch, transformers
    rec = {"side": "hf", "label": a.label, "model": a.model, "layers": a.layers, "seq": a.seq, "ckpt": a.ckpt,
           "loss": a.loss, "torch": torch.__version__, "transformers": transformers.__version__,
           "gpu": torch.cuda.get_device_name(0), "precision": "bf16 params + fp32 masters, fused AdamW"}
    status = 0
    try:
        torch.manual_seed(0)
        model, cfg, loss_impl = build(a)
        rec["loss_impl"] = loss_impl
        rec["parameters"] = sum(p.numel() for p in model.parameters())
        opt = Bf16MasterOptimizer(model.parameters(), 1e-5)
        ce = chunked_linear_ce_class() if loss_impl == "chunked_py" else None
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        times, losses = [], []
        profiler = kernel_profiler(a.kernel_profile)
        wall_start = time.perf_counter()
        for _ in range(a.steps):
            ids = torch.randint(0, cfg.vocab_size, (1, a.seq + 1), device="cuda")
            t0 = time.perf_counter()
            if ce is None:
                loss = model(input_ids=ids[:, :-1], labels=ids[:, :-1]).loss
            else:
                h = model.model(input_ids=ids[:, :-1]).last_hidden_state
                loss = ce.apply(h.reshape(-1, h.shape[-1]), model.lm_head.weight, ids[:, 1:].reshape(-1), chunks)
            loss.backward()
            opt.step()
            opt.zero_grad()
            losses.append(loss.item())
            del loss
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        if profiler is not None:
            write_kernel_profile(profiler, a.kernel_profile, a.steps, time.perf_counter() - wall_start)
        steady = times[1:] if len(times) > 1 else times
        step_s = sum(steady) / len(steady)
        rec.update(step_seconds=step_s, tokens_per_second=a.seq / step_s, losses=losses, step_times=times,
                   peak_allocated_bytes=torch.cuda.max_memory_allocated(),
                   peak_reserved_bytes=torch.cuda.max_memory_reserved(), oom=False, error="")
    except torch.cuda.OutOfMemoryError as e:
        rec.update(oom=True, error=str(e)[:400], peak_allocated_bytes=torch.cuda.max_memory_allocated())
        status = 3
    except Exception as e:  # noqa: BLE001 - one row failing must not stop the bench
        rec.update(oom=False, error=f"{type(e).__name__}: {e}"[:400])
        traceback.print_exc()
        status = 1
    with open(a.out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(f"[hf] {a.label}: " + (f"{rec.get('tokens_per_second', 0):.0f} tok/s, peak "
                                 f"{rec.get('peak_allocated_bytes', 0) / 2**30:.2f} GiB ({rec.get('loss_impl')})"
                                 if status == 0 else f"FAILED: {rec['error']}"), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
