// Scenario file loader (see scenario_loader.h): file -> Scenario, validated field by field.
#include "planner/io/scenario_loader.h"

#include <sys/stat.h>

#include "planner/input_error.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/model_loader.h"
#include "planner/io/yaml_fields.h"

namespace zplan {

namespace {

const std::vector<std::string> kScenarioKeys = {
    "model", "gpus", "cluster", "host_ram", "nodes", "seq", "global_batch", "attention", "profile",
    "framework", "experts", "norm_kernel", "adamw_kernel", "elementwise_kernel", "cross_entropy_kernel", "drop_logits", "use_cache", "strategy", "deepspeed", "description"};
// DeepSpeed's buffer sizes and switches, under the names of its zero_optimization block.
const std::vector<std::string> kDeepSpeedKeys = {
    "reduce_bucket_size", "allgather_bucket_size", "stage3_prefetch_bucket_size", "stage3_param_persistence_threshold",
    "stage3_max_live_parameters", "stage3_max_reuse_distance", "sub_group_size", "overlap_comm", "contiguous_gradients"};
const std::vector<std::string> kStrategyKeys = {"zero", "offload_optimizer", "offload_params", "ckpt", "cpu_ckpt",
                                                "sp", "micro_batch", "grad_accum", "precision", "loss_chunks"};

bool exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

// A relative path in a scenario is taken from the scenario's directory when it exists there, so
// configs/ can refer to its neighbours; otherwise it is left for the current directory.
std::string relative_to(const std::string& scenario_path, const std::string& value) {
  if (value.empty() || value[0] == '/') return value;
  const size_t slash = scenario_path.find_last_of('/');
  if (slash == std::string::npos) return value;
  const std::string candidate = scenario_path.substr(0, slash + 1) + value;
  return exists(candidate) ? candidate : value;
}

bool looks_like_path(const std::string& v) {
  return v.find(".yaml") != std::string::npos || v.find(".yml") != std::string::npos ||
         v.find(".json") != std::string::npos;
}

StrategyPins read_pins(const FieldReader& s, const ModelSpec& model) {
  s.reject_unknown(kStrategyKeys);
  StrategyPins p;
  if (auto z = s.optional_int("zero", 0, 3)) p.zero_stage = static_cast<int>(*z);
  if (auto o = s.optional_choice("offload_optimizer", {"cpu", "none"})) p.offload_optimizer = *o == "cpu";
  if (auto o = s.optional_choice("offload_params", {"cpu", "none"})) p.offload_params = *o == "cpu";
  if (s.has("ckpt")) {
    const std::string v = s.required_string("ckpt");
    if (v == "none") {
      p.checkpoint_full = false;
      p.checkpointed_layers = 0;
    } else if (v == "full") {
      p.checkpoint_full = true;
      p.checkpointed_layers = model.layers;  // the model is known here, so "full" resolves to L
    } else if (!v.empty() && v.find_first_not_of("0123456789") == std::string::npos) {
      p.checkpoint_full = false;
      p.checkpointed_layers = s.optional_int("ckpt", 0, model.layers);  // range error names 0..L
    } else {
      s.fail("ckpt", "expected none, full or a number of checkpointed layers in [0, " +
                         std::to_string(model.layers) + "], got \"" + v + "\"");
    }
  }
  p.cpu_checkpointing = s.optional_bool("cpu_ckpt");
  if (auto v = s.optional_int("sp", 1, 1024)) p.sp_degree = static_cast<int>(*v);
  p.micro_batch = s.optional_int("micro_batch", 1, 1'000'000);
  p.grad_accumulation = s.optional_int("grad_accum", 1, 1'000'000);
  p.loss_chunks = s.optional_int("loss_chunks", 0, 16'777'216);  // 0/1: whole logits (planner/memory/loss_path.h)
  if (auto v = s.optional_choice("precision", {"bf16", "fp16", "fp32", "amp-bf16", "amp-fp16", "bf16-pure"})) {
    Precision prec;
    parse_precision(*v, &prec);
    p.precision = prec;
  }
  if (p.offload_params.value_or(false) && p.zero_stage && *p.zero_stage != 3)
    s.fail("offload_params", "cpu needs zero: 3 (ZeRO-3 is the stage that partitions parameters), got zero: " +
                                 std::to_string(*p.zero_stage));
  if (p.cpu_checkpointing.value_or(false) && p.checkpointed_layers && *p.checkpointed_layers == 0)
    s.fail("cpu_ckpt", "true needs checkpointed layers (ckpt: full or N > 0), got ckpt: none");
  if (p.sp_degree && model.heads % *p.sp_degree != 0)
    s.fail("sp", "expected a divisor of the model's " + std::to_string(model.heads) + " attention heads, got " +
                     std::to_string(*p.sp_degree));
  return p;
}

void read_deepspeed_buffers(const FieldReader& d, TrainingSpec& t) {
  d.reject_unknown(kDeepSpeedKeys);
  constexpr int64_t kMaxElems = int64_t{1} << 50;
  auto size = [&](const char* key, int64_t* out) {
    if (auto v = d.optional_int(key, 0, kMaxElems)) *out = *v;
  };
  size("reduce_bucket_size", &t.reduce_bucket_elems);
  size("allgather_bucket_size", &t.allgather_bucket_elems);
  size("stage3_prefetch_bucket_size", &t.prefetch_bucket_elems);
  size("stage3_param_persistence_threshold", &t.param_persistence_threshold);
  size("stage3_max_live_parameters", &t.max_live_parameters);
  size("stage3_max_reuse_distance", &t.max_reuse_distance);
  size("sub_group_size", &t.sub_group_size);
  if (auto b = d.optional_bool("overlap_comm")) t.overlap_comm = *b ? 1 : 0;
  if (auto b = d.optional_bool("contiguous_gradients")) t.contiguous_gradients = *b;
}

}  // namespace

Scenario load_scenario(const std::string& path) {
  const FieldReader r(load_yaml_file(path), path);
  r.reject_unknown(kScenarioKeys);
  Scenario sc;

  std::string model = r.required_string("model");
  if (looks_like_path(model)) model = relative_to(path, model);
  sc.model = load_model(model, path, "model");

  if (r.has("gpus") == r.has("cluster"))
    r.fail("gpus", r.has("gpus") ? "give gpus or cluster, not both" : "missing; expected NxGPU such as 8xH100 (or a cluster: key)");
  if (r.has("gpus")) {
    sc.cluster = load_cluster(r.required_string("gpus"), path, "gpus");
  } else {
    std::string cluster = r.required_string("cluster");
    if (looks_like_path(cluster)) cluster = relative_to(path, cluster);
    sc.cluster = load_cluster(cluster, path, "cluster");
  }
  if (r.has("host_ram")) sc.cluster.host_ram_bytes = parse_size_with_unit(r.required_string("host_ram"), path, "host_ram");
  if (r.has("host_ram")) sc.cluster.host_ram_origin = path + " host_ram";
  if (auto n = r.optional_int("nodes", 1, 100'000)) sc.cluster.nodes = static_cast<int>(*n);

  sc.training.seq_len = r.required_int("seq", 1, 100'000'000);
  sc.training.global_batch = r.optional_int("global_batch", 0, 1'000'000'000).value_or(0);
  if (auto a = r.optional_choice("attention", {"sdpa", "flash", "eager"})) parse_attention(*a, &sc.training.attention);
  // A scenario describes the user's stack: Hugging Face transformers unless it says otherwise.
  sc.training.profile = Profile::hf;
  if (auto p = r.optional_choice("profile", {"zplan", "hf"})) parse_profile(*p, &sc.training.profile);
  if (auto f = r.optional_choice("framework", {"deepspeed", "fsdp2", "ddp", "plain"}))
    parse_framework(*f, &sc.training.framework);
  if (auto e = r.optional_choice("experts", {"grouped_mm", "eager"})) parse_experts_impl(*e, &sc.training.experts);
  if (auto n = r.optional_choice("norm_kernel", {"fused", "composite"})) parse_norm_impl(*n, &sc.training.norm);
  if (auto a = r.optional_choice("adamw_kernel", {"fused-master", "upcast"})) parse_adamw_impl(*a, &sc.training.adamw);
  if (auto e = r.optional_choice("elementwise_kernel", {"fused", "composite"})) parse_elementwise_impl(*e, &sc.training.elementwise);
  if (auto x = r.optional_choice("cross_entropy_kernel", {"fused", "composite"})) parse_cross_entropy_impl(*x, &sc.training.cross_entropy);
  if (auto b = r.optional_bool("drop_logits")) sc.training.hold_outputs = !*b;
  if (auto b = r.optional_bool("use_cache")) sc.training.use_cache = *b;
  read_deepspeed_buffers(r.sub("deepspeed"), sc.training);

  sc.pins = read_pins(r.sub("strategy"), sc.model);
  const bool wants_bf16 = sc.pins.precision == Precision::bf16 || sc.pins.precision == Precision::amp_bf16;
  if (wants_bf16 && !sc.cluster.gpu.supports_bf16)
    r.fail("strategy.precision", std::string(to_string(*sc.pins.precision)) + " is not supported by " +
                                     sc.cluster.gpu.name + "; expected fp16, amp-fp16 or fp32");
  if (sc.pins.sp_degree && sc.cluster.world_size() % *sc.pins.sp_degree != 0)
    r.fail("strategy.sp", "expected a divisor of the " + std::to_string(sc.cluster.world_size()) + " GPUs, got " +
                              std::to_string(*sc.pins.sp_degree));
  // With every batch dimension pinned, the global batch must come out exactly.
  if (sc.training.global_batch > 0 && sc.pins.micro_batch && sc.pins.grad_accumulation && sc.pins.sp_degree) {
    const int64_t dp = sc.cluster.world_size() / *sc.pins.sp_degree;
    const int64_t got = *sc.pins.micro_batch * *sc.pins.grad_accumulation * dp;
    if (got != sc.training.global_batch)
      r.fail("global_batch", "expected micro_batch x grad_accum x data-parallel ranks = " +
                                 std::to_string(*sc.pins.micro_batch) + " x " +
                                 std::to_string(*sc.pins.grad_accumulation) + " x " + std::to_string(dp) + " = " +
                                 std::to_string(got) + ", got " + std::to_string(sc.training.global_batch));
  }
  return sc;
}

}  // namespace zplan
