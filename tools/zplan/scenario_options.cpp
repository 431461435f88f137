// Scenario flags (see scenario_options.h).
#include "scenario_options.h"

#include <cmath>
#include <sstream>

#include "planner/config/validate.h"
#include "planner/input_error.h"
#include "planner/io/calibration_loader.h"
#include "planner/search/hardware_search.h"
#include "planner/io/deepspeed_config.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/model_loader.h"
#include "planner/io/scenario_loader.h"

namespace zplan {
namespace {

int64_t parse_int(const std::string& flag, const std::string& text, int64_t lo, int64_t hi) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw InputError(flag, "", "expected an integer, got '" + text + "'");
  if (v < lo || v > hi)
    throw InputError(flag, "", "expected " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + text);
  return v;
}

bool parse_device(const std::string& flag, const std::string& text) {
  if (text == "cpu") return true;
  if (text == "none") return false;
  if (text == "nvme")  // the same answer a DeepSpeed file's "device": "nvme" gets
    throw InputError(flag, "", "expected cpu or none: NVMe offload is not modelled (its host swap buffers are not "
                               "predicted); cpu predicts the same GPU memory");
  throw InputError(flag, "", "expected cpu or none, got '" + text + "'");
}

}  // namespace

void add_scenario_options(CLI::App& app, ScenarioOptions& o) {
  app.add_option("--model", o.model, "Model: built-in name (zplan models), models/*.yaml, or a Hugging Face config.json");
  app.add_option("--gpus", o.gpus, "GPUs as NxGPU, e.g. 8xH100, 4xV100, 3x3080-20g (zplan hardware); or auto, or a list "
                                   "such as h100,h200,a100-80gb to search GPU type and count");
  app.add_option("--cluster", o.cluster, "A built-in cluster name or hardware/clusters/*.yaml (instead of --gpus)");
  app.add_option("--host-ram", o.host_ram, "Host RAM per node, e.g. 12GiB");
  app.add_option("--nodes", o.nodes, "Number of nodes (GPUs per node from --gpus)");
  app.add_option("--config", o.config, "A scenario file (configs/*.yaml); flags override it");
  app.add_option("--deepspeed", o.deepspeed, "A DeepSpeed JSON config: pins what it states; flags override it");
  app.add_option("--seq", o.seq, "Tokens per sequence");
  app.add_option("--global-batch", o.global_batch, "Sequences per optimizer step (the search keeps it)");
  app.add_option("--profile", o.profile, "Whose implementation is predicted: zplan (our runtime) or hf (transformers)");
  app.add_option("--attn", o.attn, "Attention kernel: sdpa, flash or eager");
  app.add_option("--framework", o.framework, "deepspeed, fsdp2, ddp or plain (default: plain on one GPU, else deepspeed)");
  app.add_option("--norm-kernel", o.norm_kernel, "how zplan's runtime runs RMSNorm: fused (default; at::_fused_rms_norm on a GPU, libtorch >= 2.8, no AMP) or composite (transformers' fp32 expression: the hf profile, the CPU, older libtorch)");
  app.add_option("--adamw-kernel", o.adamw_kernel, "how zplan's runtime updates the fp32 masters of bf16/fp16: fused-master (default; zplan's one-pass CUDA kernel from the 16-bit gradients) or upcast (each gradient copied to fp32 for at::_fused_adamw_: the CPU, builds without the kernel)");
  app.add_option("--elementwise-kernel", o.elementwise_kernel, "how zplan's runtime runs SwiGLU and RoPE: fused (default; zplan's CUDA kernels, one each forward and backward; SwiGLU keeps gate and up only) or composite (PyTorch's ops as transformers writes them: the CPU, builds without the kernels)");
  app.add_option("--cross-entropy-kernel", o.cross_entropy_kernel, "how zplan's runtime computes the plain loss path's cross-entropy: fused (default; zplan's CUDA kernels: no fp32 copy of the logits, their gradient written once) or composite (transformers' logits.float(), log_softmax, nll_loss: the CPU, builds without the kernels)");
  app.add_option("--experts", o.experts, "how MoE experts run: grouped_mm (default; transformers and zplan's runtime on a GPU), eager (transformers' loop) or loop (zplan's runtime without _grouped_mm, or forced with --run: one mm per expert)");
  app.add_flag("--gradient-checkpointing", o.gradient_checkpointing, "HF gradient_checkpointing_enable(): all layers");
  app.add_flag("--drop-logits", o.drop_logits,
               "The loop drops the model output before backward (HF Trainer, loss = model(...).loss); "
               "default: it keeps `outputs` until the next step, as `out = model(...); out.loss.backward()` does");
  app.add_option("--loop", o.loop,
                 "The training loop, which decides what lives at the peak: trainer (HF Trainer: keeps only the "
                 "loss), accelerate or plain (`out = model(...)` kept until the next forward; the default), "
                 "plain-drop (the loop deletes `out` before backward)");
  app.add_flag("--use-cache", o.use_cache, "config.use_cache is left on while training (a KV cache per layer)");
  app.add_option("--zero", o.zero, "Pin the ZeRO stage: 0..3");
  app.add_option("--offload-optimizer", o.offload_optimizer, "Pin optimizer offload: cpu or none");
  app.add_option("--offload-params", o.offload_params, "Pin parameter offload (ZeRO-3): cpu or none");
  app.add_option("--ckpt", o.ckpt, "Pin activation checkpointing: none, full, or N checkpointed layers");
  app.add_flag("--cpu-ckpt", o.cpu_ckpt, "Pin CPU checkpointing on");
  app.add_option("--sp", o.sp, "Pin the Ulysses sequence-parallel degree");
  app.add_option("--loss-chunks", o.loss_chunks, "Pin the loss path: 0 or 1 = whole logits, N = lm_head + cross-entropy in N token chunks");
  app.add_option("--micro-batch", o.micro_batch, "Pin sequences per GPU per micro-step");
  app.add_option("--grad-accum", o.grad_accum, "Pin gradient accumulation steps");
  app.add_option("--precision", o.precision, "Pin precision: bf16, fp16, fp32, amp-bf16, amp-fp16, bf16-pure");
  app.add_option("--format", o.format, "Output: text, json, markdown or html");
  app.add_option("--out", o.out, "Write the report to this file");
  app.add_flag("--explain", o.explain, "Print the decision tree with the numbers behind each branch");
  app.add_option("--margin", o.margin,
                 "Fraction of GPU memory to keep free at least, in [0, 0.5); the fit verdict asks for the larger of it "
                 "and the path's measured band (default 0)");
  app.add_option("--memory-fraction", o.memory_fraction,
                 "Cap PyTorch's caching allocator at this fraction of the GPU, in (0, 1] "
                 "(torch.cuda.set_per_process_memory_fraction; written into --emit-deepspeed's launch notes); default 1");
  app.add_option("--objective", o.objective, "Rank feasible plans by throughput (= time), memory (headroom), or cost "
                                             "(dollars per million tokens; with --gpus auto or a list)");
  app.add_option("--calibration", o.calibration, "Step-time calibration file (zplan calibrate); default: the built-in one of the GPU");
  app.add_option("--max-gpus", o.max_gpus, "Most GPUs the hardware search may use (default 64)");
  app.add_option("--price", o.prices, "Dollars per GPU-hour, e.g. --price h100=2.49 (repeatable; overrides hardware/gpus/*.yaml)");
  app.add_option("--tokens", o.tokens, "Print the time and cost to train this many tokens, e.g. 2e9");
  app.add_option("--emit-deepspeed", o.emit_deepspeed, "Write a DeepSpeed config for the chosen plan");
  app.add_flag("--expandable-segments", o.expandable_segments, "Predict with PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True");
  app.add_flag("--print-config", o.print_config, "Print the effective scenario and exit");
}

namespace {

// The stack a scenario predicts (docs/cli.md "What is trained, and on what"): --profile or the scenario file wins; otherwise --run
// predicts zplan's runtime and everything else Hugging Face transformers under the framework.
void resolve_profile(const ScenarioOptions& o, bool run, Scenario& s) {
  if (!o.profile.empty()) {
    if (!parse_profile(o.profile, &s.training.profile))
      throw InputError("--profile", "", "expected zplan or hf, got '" + o.profile + "'");
    return;
  }
  if (run) s.training.profile = Profile::zplan;
  else if (o.config.empty()) s.training.profile = Profile::hf;  // a scenario file states its own (default hf)
}

// FlashAttention 2 runs on compute capability 8.0 (Ampere) and newer only.
void check_attention(const ScenarioOptions& o, const Scenario& s) {
  const GpuSpec& g = s.cluster.gpu;
  if (s.training.attention != Attention::flash || g.compute_capability == 0 || g.compute_capability >= 8.0) return;
  const std::string why = "flash (FlashAttention 2) needs compute capability 8.0 or newer; " + g.name + " has " +
                          std::to_string(g.compute_capability).substr(0, 3) + "; expected sdpa or eager";
  if (!o.attn.empty()) throw InputError("--attn", "", why);
  throw InputError(o.config, "attention", why);
}

// Pins that contradict each other, named where they were set: a flag, else the DeepSpeed file,
// else the scenario file.
void check_pins(const ScenarioOptions& o, const StrategyPins& p) {
  const std::string file = !o.deepspeed.empty() ? o.deepspeed : o.config;
  auto where = [&](const std::string& flag, const std::string& value, const std::string& other_flag,
                   const std::string& other_value) {
    return !value.empty() ? flag : !other_value.empty() ? other_flag : file;
  };
  // The strategy rules (planner/config/validate.h) on the pinned values; a dimension left to the
  // search takes a value that passes them (ZeRO 3, no offload, some recompute).
  Strategy pinned;
  pinned.zero_stage = p.zero_stage.value_or(3);
  pinned.offload_optimizer = p.offload_optimizer.value_or(false);
  pinned.offload_params = p.offload_params.value_or(false);
  pinned.checkpointed_layers = p.checkpointed_layers.value_or(1);
  pinned.cpu_checkpointing = p.cpu_checkpointing.value_or(false);
  if (const StrategyCheck problem = check_offload(pinned)) {
    const std::string& value = problem->flag == "--offload-params" ? o.offload_params : o.offload_optimizer;
    throw InputError(where(problem->flag, value, "--zero", o.zero), "", problem->message);
  }
  if (const StrategyCheck problem = check_cpu_checkpointing(pinned))
    throw InputError(o.cpu_ckpt ? "--cpu-ckpt" : where("--ckpt", o.ckpt, "--ckpt", o.ckpt), "", problem->message);
}

}  // namespace

Scenario build_scenario(const ScenarioOptions& o, bool run) {
  Scenario s;
  bool have_model = false, have_cluster = false;
  if (!o.config.empty()) {
    s = load_scenario(o.config);
    have_model = have_cluster = true;
  }
  if (!o.model.empty()) {
    s.model = load_model(o.model, "--model", "");
    have_model = true;
  }
  if (hardware_search_requested(o)) {
    // A stand-in node of the first GPU; the hardware search replaces it by each candidate.
    s.cluster = cluster_of(hardware_list(o).front(), 8);
    have_cluster = true;
  } else if (!o.gpus.empty()) {
    s.cluster = cluster_from_gpus_flag(o.gpus);
    have_cluster = true;
  } else if (!o.cluster.empty()) {
    s.cluster = load_cluster(o.cluster, "--cluster", "");
    have_cluster = true;
  }
  if (!have_model) throw InputError("--model", "", "missing: name a model (zplan models lists them) or a config.json");
  if (!have_cluster) throw InputError("--gpus", "", "missing: give NxGPU, e.g. --gpus 8xH100 (zplan hardware lists GPUs)");
  if (!o.host_ram.empty()) {
    s.cluster.host_ram_bytes = parse_size_with_unit(o.host_ram, "--host-ram");
    s.cluster.host_ram_origin = "--host-ram";
  }
  if (o.nodes != 0) {
    if (o.nodes < 1 || o.nodes > 100000) throw InputError("--nodes", "", "expected 1..100000, got " + std::to_string(o.nodes));
    s.cluster.nodes = o.nodes;
  }
  // After the model (HF "auto" bucket sizes need its hidden size) and the cluster (batch identity
  // needs the world size); before the flags below, which win over the file.
  if (!o.deepspeed.empty()) apply_deepspeed_config(o.deepspeed, s);
  if (o.seq != 0 || s.training.seq_len == 0) s.training.seq_len = o.seq;
  if (s.training.seq_len <= 0) throw InputError("--seq", "", "missing or not positive: give tokens per sequence, e.g. --seq 4096");
  if (!o.global_batch.empty()) s.training.global_batch = parse_int("--global-batch", o.global_batch, 1, int64_t{1} << 40);
  if (!o.loop.empty()) {
    // What matters at the peak is whether the loop still holds the output (its logits) when
    // backward runs: the Trainer's compute_loss returns only the loss; accelerate and plain loops
    // keep `outputs` bound until the next forward rebinds it.
    if (o.loop == "trainer" || o.loop == "plain-drop") s.training.hold_outputs = false;
    else if (o.loop == "plain" || o.loop == "accelerate") s.training.hold_outputs = true;
    else throw InputError("--loop", "", "expected trainer, accelerate, plain or plain-drop, got '" + o.loop + "'");
    if (o.drop_logits && s.training.hold_outputs)
      throw InputError("--drop-logits", "", "contradicts --loop " + o.loop + ", which keeps the output");
  }
  if (o.drop_logits) s.training.hold_outputs = false;
  if (!o.norm_kernel.empty() && !parse_norm_impl(o.norm_kernel, &s.training.norm))
    throw InputError("--norm-kernel", "", "expected fused or composite, got '" + o.norm_kernel + "'");
  if (!o.adamw_kernel.empty() && !parse_adamw_impl(o.adamw_kernel, &s.training.adamw))
    throw InputError("--adamw-kernel", "", "expected fused-master or upcast, got '" + o.adamw_kernel + "'");
  if (!o.elementwise_kernel.empty() && !parse_elementwise_impl(o.elementwise_kernel, &s.training.elementwise))
    throw InputError("--elementwise-kernel", "", "expected fused or composite, got '" + o.elementwise_kernel + "'");
  if (!o.cross_entropy_kernel.empty() && !parse_cross_entropy_impl(o.cross_entropy_kernel, &s.training.cross_entropy))
    throw InputError("--cross-entropy-kernel", "", "expected fused or composite, got '" + o.cross_entropy_kernel + "'");
  if (!o.experts.empty() && !parse_experts_impl(o.experts, &s.training.experts))
    throw InputError("--experts", "", "expected grouped_mm, eager or loop, got '" + o.experts + "'");
  if (o.use_cache) s.training.use_cache = true;
  resolve_profile(o, run, s);
  if (!o.attn.empty() && !parse_attention(o.attn, &s.training.attention))
    throw InputError("--attn", "", "expected sdpa, flash or eager, got '" + o.attn + "'");
  bool framework_set = !o.framework.empty();
  if (framework_set && !parse_framework(o.framework, &s.training.framework))
    throw InputError("--framework", "", "expected deepspeed, fsdp2, ddp or plain, got '" + o.framework + "'");
  if (!framework_set && o.config.empty() && o.deepspeed.empty())
    s.training.framework = s.cluster.world_size() > 1 ? Framework::deepspeed : Framework::plain;
  if (!o.emit_deepspeed.empty()) {
    // The config written is run by DeepSpeed, so the plan is made for DeepSpeed's buffers.
    if (framework_set && s.training.framework != Framework::deepspeed)
      throw InputError("--emit-deepspeed", "", "writes a DeepSpeed config, but --framework is " + o.framework +
                                                   "; drop --framework or use --framework deepspeed");
    s.training.framework = Framework::deepspeed;
  }
  check_attention(o, s);

  StrategyPins& p = s.pins;
  if (!o.zero.empty()) p.zero_stage = static_cast<int>(parse_int("--zero", o.zero, 0, 3));
  if (!o.offload_optimizer.empty()) p.offload_optimizer = parse_device("--offload-optimizer", o.offload_optimizer);
  if (!o.offload_params.empty()) p.offload_params = parse_device("--offload-params", o.offload_params);
  if (o.gradient_checkpointing) p.checkpointed_layers = s.model.layers;
  if (!o.ckpt.empty()) {
    if (o.ckpt == "none") p.checkpointed_layers = 0;
    else if (o.ckpt == "full") p.checkpointed_layers = s.model.layers;
    else p.checkpointed_layers = parse_int("--ckpt", o.ckpt, 0, s.model.layers);
  }
  if (p.checkpoint_full.value_or(false)) p.checkpointed_layers = s.model.layers;
  if (o.cpu_ckpt) p.cpu_checkpointing = true;
  if (!o.sp.empty()) p.sp_degree = static_cast<int>(parse_int("--sp", o.sp, 1, 1 << 20));
  if (!o.loss_chunks.empty()) p.loss_chunks = parse_int("--loss-chunks", o.loss_chunks, 0, s.training.seq_len);
  if (!o.micro_batch.empty()) p.micro_batch = parse_int("--micro-batch", o.micro_batch, 1, 65536);
  if (!o.grad_accum.empty()) p.grad_accumulation = parse_int("--grad-accum", o.grad_accum, 1, 1 << 20);
  if (!o.precision.empty()) {
    Precision prec;
    if (!parse_precision(o.precision, &prec))
      throw InputError("--precision", "", "expected bf16, fp16, fp32, amp-bf16, amp-fp16 or bf16-pure, got '" + o.precision + "'");
    p.precision = prec;
  }
  check_pins(o, p);
  if (!(o.margin >= 0 && o.margin < 0.5))
    throw InputError("--margin", "", "expected a fraction in [0, 0.5), got " + std::to_string(o.margin));
  if (!(o.memory_fraction > 0 && o.memory_fraction <= 1))
    throw InputError("--memory-fraction", "", "expected a fraction in (0, 1], got " + std::to_string(o.memory_fraction));
  if (o.format != "text" && o.format != "json" && o.format != "markdown" && o.format != "html")
    throw InputError("--format", "", "expected text, json, markdown or html, got '" + o.format + "'");
  if (!o.objective.empty() && o.objective != "throughput" && o.objective != "memory" && o.objective != "cost" && o.objective != "time")
    throw InputError("--objective", "", "expected throughput, time, cost or memory, got '" + o.objective + "'");
  if (hardware_search_requested(o) && o.objective == "memory")
    throw InputError("--objective", "", "memory ranks plans on one cluster; with --gpus " + o.gpus + " use cost or time");
  if (!hardware_search_requested(o) && o.max_gpus != 0)
    throw InputError("--max-gpus", "", "applies to a hardware search: --gpus auto or a list such as h100,h200");
  if (o.max_gpus < 0 || o.max_gpus > 65536) throw InputError("--max-gpus", "", "expected 1..65536, got " + std::to_string(o.max_gpus));
  tokens_to_train(o);
  if (!hardware_search_requested(o) && !o.prices.empty()) {
    std::vector<GpuSpec> one = {s.cluster.gpu};
    apply_prices(o, one);
    s.cluster.gpu = one.front();
  }
  return s;
}

bool all_pinned(const StrategyPins& p) {
  // The dimensions that decide memory most; the rest default to their off value (no offload, no
  // CPU checkpointing, SP 1, no accumulation), which is what a user who omits them runs.
  return p.zero_stage && p.checkpointed_layers && p.micro_batch && p.precision;
}

EstimateOptions estimate_options(const ScenarioOptions& o, const Scenario& s) {
  EstimateOptions e;
  // No silent cap: the allocator is replayed against the whole device unless the user sets a memory
  // fraction, and what must stay free is the path's measured band (or --margin, if larger).
  const std::optional<Calibration> calibration = user_calibration(o);
  e.cost = cost_options_for(s.cluster.gpu, s.training.profile, calibration ? &*calibration : nullptr);
  e.margin = o.margin;
  e.memory_fraction = o.memory_fraction;
  e.expandable_segments = o.expandable_segments;
  return e;
}

}  // namespace zplan

namespace zplan {

bool hardware_search_requested(const ScenarioOptions& o) {
  // A single name without a count stays an error ("--gpus H100": the count was forgotten); a list
  // needs a comma, so one GPU type is searched over counts with "--gpus h100,".
  return o.gpus == "auto" || o.gpus.find(',') != std::string::npos;
}

std::vector<GpuSpec> hardware_list(const ScenarioOptions& o) {
  std::vector<GpuSpec> gpus;
  if (o.gpus == "auto" || o.gpus.empty()) {
    for (const std::string& name : builtin_gpu_names()) gpus.push_back(load_gpu(name));
  } else {
    std::string item;
    std::istringstream in(o.gpus);
    while (std::getline(in, item, ',')) {
      if (item.empty()) continue;  // "h100," searches one GPU type
      const GpuSpec g = load_gpu(item, "--gpus", "");
      for (const GpuSpec& seen : gpus)
        if (seen.name == g.name) throw InputError("--gpus", "", g.name + " is listed twice");
      gpus.push_back(g);
    }
  }
  if (gpus.empty()) throw InputError("--gpus", "", "expected GPU names separated by commas, or auto");
  apply_prices(o, gpus);
  return gpus;
}

void apply_prices(const ScenarioOptions& o, std::vector<GpuSpec>& gpus) {
  for (const std::string& p : o.prices) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) throw InputError("--price", "", "expected GPU=DOLLARS_PER_GPU_HOUR, e.g. h100=2.49, got '" + p + "'");
    const std::string name = load_gpu(p.substr(0, eq), "--price", "").name;
    double dollars = 0;
    try {
      size_t used = 0;
      dollars = std::stod(p.substr(eq + 1), &used);
      if (used != p.size() - eq - 1) throw std::invalid_argument("trailing text");
    } catch (const std::exception&) {
      throw InputError("--price", "", "expected a number of dollars per GPU-hour after '=', got '" + p + "'");
    }
    if (!(dollars > 0) || !std::isfinite(dollars)) throw InputError("--price", "", "expected a positive price per GPU-hour, got '" + p + "'");
    bool found = false;
    for (GpuSpec& g : gpus)
      if (g.name == name) g.price_per_gpu_hour = dollars, found = true;
    if (!found) throw InputError("--price", "", name + " is not among the GPUs planned for (--gpus " + o.gpus + ")");
  }
}

int max_gpus_or_default(const ScenarioOptions& o) { return o.max_gpus > 0 ? o.max_gpus : 64; }

std::optional<double> tokens_to_train(const ScenarioOptions& o) {
  if (o.tokens.empty()) return std::nullopt;
  double t = 0;
  try {
    size_t used = 0;
    t = std::stod(o.tokens, &used);
    if (used != o.tokens.size()) throw std::invalid_argument("trailing text");
  } catch (const std::exception&) {
    throw InputError("--tokens", "", "expected a number of tokens such as 2e9, got '" + o.tokens + "'");
  }
  if (!(t >= 1) || !std::isfinite(t)) throw InputError("--tokens", "", "expected at least 1 token, got '" + o.tokens + "'");
  return t;
}

std::optional<Calibration> user_calibration(const ScenarioOptions& o) {
  if (o.calibration.empty()) return std::nullopt;
  return load_calibration(o.calibration);
}

}  // namespace zplan
