// Reading a user's DeepSpeed JSON config into a Scenario (see deepspeed_config.h). The format is
// DeepSpeed's own (deepspeed/runtime/config.py, runtime/zero/config.py, runtime/zero/
// offload_config.py, runtime/activation_checkpointing/config.py). Every strategy dimension the
// file states becomes a pin, buffer sizes go to TrainingSpec, and "auto" values are treated the
// way the Hugging Face integration resolves them (transformers/integrations/deepspeed.py,
// HfTrainerDeepSpeedConfig.trainer_config_process / trainer_config_finalize).
// The writer for --emit-deepspeed lives in deepspeed_config_writer.cpp.
#include "planner/io/deepspeed_config.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <optional>

#include "planner/input_error.h"
#include "planner/io/deepspeed_keys.h"
#include "planner/io/suggest.h"
#include "planner/io/yaml_fields.h"  // read_text_file

namespace zplan {
namespace {

using nlohmann::json;

bool is_auto(const json& v) { return v.is_string() && v.get<std::string>() == "auto"; }

std::string shown(const json& v) {
  const std::string s = v.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

// Typed reads of one JSON object; errors name the file and the dotted field path.
class Fields {
 public:
  Fields(const json& obj, std::string path, std::string prefix)
      : obj_(obj), path_(std::move(path)), prefix_(std::move(prefix)) {}

  const std::string& path() const { return path_; }
  bool has(const char* key) const { return obj_.contains(key) && !obj_.at(key).is_null(); }
  bool has_auto(const char* key) const { return has(key) && is_auto(obj_.at(key)); }
  std::string field(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "." + key; }
  [[noreturn]] void fail(const char* key, const std::string& expected) const {
    throw InputError(path_, field(key), "expected " + expected + ", got " + shown(obj_.at(key)));
  }

  // A nested object; absent or null: nullopt.
  std::optional<Fields> sub(const char* key) const {
    if (!has(key)) return std::nullopt;
    if (!obj_.at(key).is_object()) fail(key, "an object");
    return Fields(obj_.at(key), path_, field(key));
  }
  // Integer in [lo, hi]. JSON floats (5e8, 1e9) are accepted when integral, as DeepSpeed's
  // pydantic config does. Absent or "auto": nullopt.
  std::optional<int64_t> integer(const char* key, int64_t lo, int64_t hi, const std::string& expected) const {
    if (!has(key) || has_auto(key)) return std::nullopt;
    const json& v = obj_.at(key);
    if (v.is_number_unsigned()) {  // nlohmann reads every non-negative literal (0 too) as unsigned
      const uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(hi) || static_cast<int64_t>(u) < lo) fail(key, expected);
      return static_cast<int64_t>(u);
    }
    if (v.is_number_integer()) {
      const int64_t i = v.get<int64_t>();
      if (i < lo || i > hi) fail(key, expected);
      return i;
    }
    if (!v.is_number_float()) fail(key, expected);
    const double d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(lo) || d > static_cast<double>(hi))
      fail(key, expected);
    return static_cast<int64_t>(d);
  }
  std::optional<bool> boolean(const char* key) const {
    if (!has(key) || has_auto(key)) return std::nullopt;
    if (!obj_.at(key).is_boolean()) fail(key, "true or false");
    return obj_.at(key).get<bool>();
  }
  // Offload device: "cpu" or "none". "nvme" is refused here as on the command line: zplan does
  // not model what NVMe offload keeps in host RAM (its swap buffers), so it cannot say it fits.
  std::optional<bool> device(const char* key) const {
    if (!has(key) || has_auto(key)) return std::nullopt;
    const json& v = obj_.at(key);
    if (v.is_string()) {
      const std::string d = v.get<std::string>();
      if (d == "cpu") return true;
      if (d == "none") return false;
      if (d == "nvme")
        throw InputError(path_, field(key), std::string("expected \"cpu\" or \"none\": NVMe offload is not modelled ") +
                                                "(its host swap buffers are not predicted); \"cpu\" predicts the same GPU memory");
    }
    fail(key, "\"cpu\" or \"none\"");
  }
  std::optional<std::string> text(const char* key) const {
    if (!has(key)) return std::nullopt;
    if (!obj_.at(key).is_string()) fail(key, "a string");
    return obj_.at(key).get<std::string>();
  }
  // Rejects a wrong type for a field zplan reads but does not model (partition_activations ...).
  void check_boolean(const char* key) const { (void)boolean(key); }
  // DeepSpeed's config classes forbid unknown keys (pydantic extra="forbid"): a misspelt key would
  // otherwise fall back to its default silently, and the plan would be made for another config.
  void reject_unknown(const std::vector<std::string>& known) const {
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
      throw InputError(path_, field(it.key()), unknown_key_problem(it.key(), known));
    }
  }

 private:
  const json& obj_;
  std::string path_;
  std::string prefix_;
};

constexpr int64_t kMaxElems = int64_t{1} << 50;  // buffer sizes in elements; anything larger is a typo
const char* const kElems = "a non-negative number of elements, e.g. 5e8";
const char* const kPositive = "a positive integer";

// One offload block ("offload_optimizer" / "offload_param"), or its pre-0.5 boolean spelling
// ("cpu_offload" / "cpu_offload_params"). Returns the device and the field that stated it.
std::optional<bool> read_offload(const Fields& z, const char* block, const char* old_flag, std::string* field) {
  if (auto b = z.sub(block)) {
    *field = b->field("device");
    // DeepSpeed's offload device defaults to "none" when the block omits it.
    return b->has("device") ? b->device("device") : std::optional<bool>(false);
  }
  if (z.has(old_flag)) {
    *field = z.field(old_flag);
    return z.boolean(old_flag);
  }
  *field = z.field(block);
  return false;  // a stated zero_optimization block without the block runs without offload
}

// zero_optimization: stage, offloads and buffer sizes. `h` is the model's hidden size, which the
// Hugging Face integration uses to resolve "auto" bucket sizes.
void read_zero(const Fields& z, int64_t h, StrategyPins& p, TrainingSpec& t) {
  z.reject_unknown(deepspeed_zero_keys());
  for (const char* block : {"offload_optimizer", "offload_param"})
    if (auto b = z.sub(block)) b->reject_unknown(deepspeed_offload_keys(block));
  if (auto stage = z.integer("stage", 0, 3, "a ZeRO stage 0, 1, 2 or 3")) p.zero_stage = static_cast<int>(*stage);
  std::string opt_field, param_field;
  const std::optional<bool> opt = read_offload(z, "offload_optimizer", "cpu_offload", &opt_field);
  const std::optional<bool> param = read_offload(z, "offload_param", "cpu_offload_params", &param_field);
  if (opt) p.offload_optimizer = *opt;
  if (param) p.offload_params = *param;
  if (p.zero_stage && param.value_or(false) && *p.zero_stage != 3)
    throw InputError(z.path(), param_field, "expected \"none\": parameter offload needs stage 3 (stage is " +
                                                std::to_string(*p.zero_stage) + ")");
  if (p.zero_stage && opt.value_or(false) && *p.zero_stage == 0)
    throw InputError(z.path(), opt_field, "expected \"none\": optimizer offload needs stage 1, 2 or 3 (stage is 0)");

  // Sizes in elements. "auto" is resolved from the hidden size for the three fields the Hugging
  // Face integration fills in; elsewhere it keeps DeepSpeed's default. DeepSpeed accepts each
  // stage-3 field with or without its "stage3_" prefix.
  auto size = [&](const char* key, const char* alias, int64_t* out, std::optional<int64_t> hf_auto) {
    const char* k = z.has(key) ? key : (alias && z.has(alias) ? alias : nullptr);
    if (!k) return;
    if (z.has_auto(k)) {
      if (hf_auto) *out = *hf_auto;
      return;
    }
    *out = *z.integer(k, 0, kMaxElems, kElems);
  };
  size("reduce_bucket_size", nullptr, &t.reduce_bucket_elems, h * h);
  size("allgather_bucket_size", nullptr, &t.allgather_bucket_elems, std::nullopt);
  size("stage3_prefetch_bucket_size", "prefetch_bucket_size", &t.prefetch_bucket_elems,
       static_cast<int64_t>(0.9 * static_cast<double>(h) * static_cast<double>(h)));
  size("stage3_param_persistence_threshold", "param_persistence_threshold", &t.param_persistence_threshold, 10 * h);
  size("stage3_max_live_parameters", "max_live_parameters", &t.max_live_parameters, std::nullopt);
  size("stage3_max_reuse_distance", "max_reuse_distance", &t.max_reuse_distance, std::nullopt);
  size("sub_group_size", nullptr, &t.sub_group_size, std::nullopt);
  if (auto b = z.boolean("overlap_comm")) t.overlap_comm = *b ? 1 : 0;
  if (auto b = z.boolean("contiguous_gradients")) t.contiguous_gradients = *b;
}

// bf16 / fp16 / torch_autocast blocks -> precision. Neither enabled: DeepSpeed trains in fp32.
void read_precision(const Fields& root, StrategyPins& p) {
  // "enabled" defaults to false inside a stated block; "auto" leaves the choice to the trainer.
  auto enabled = [&](const char* key) -> std::optional<bool> {
    auto b = root.sub(key);
    if (!b) return false;
    if (b->has_auto("enabled")) return std::nullopt;
    return b->boolean("enabled").value_or(false);
  };
  const char* bf16_key = root.has("bf16") ? "bf16" : "bfloat16";  // "bfloat16": DeepSpeed's old name
  for (const char* block : {bf16_key, "fp16", "torch_autocast"})
    if (auto b = root.sub(block)) b->reject_unknown(deepspeed_precision_keys(block));
  const std::optional<bool> bf16 = enabled(bf16_key), fp16 = enabled("fp16");
  if (bf16.value_or(false) && fp16.value_or(false))
    throw InputError(root.path(), "fp16.enabled", "expected false when " + std::string(bf16_key) +
                                                      ".enabled is true (DeepSpeed trains in one of them)");
  if (bf16.value_or(false)) {
    // bf16_master_weights_and_grads (DeepSpeed >= 0.18) keeps the master copy in bf16; zplan's
    // bf16 recipe counts it in fp32, which over-states those bytes rather than hiding any.
    if (root.sub(bf16_key)->boolean("bf16_master_weights_and_grads").value_or(false))
      std::cerr << "zplan: note: " << root.path() << ": " << bf16_key
                << ".bf16_master_weights_and_grads is predicted as bf16 with an fp32 master copy (an upper bound)\n";
    p.precision = Precision::bf16;
    return;
  }
  if (fp16.value_or(false)) { p.precision = Precision::fp16; return; }
  if (!bf16 || !fp16) return;  // "auto": the Trainer's --bf16/--fp16 decides
  // torch_autocast (DeepSpeed >= 0.16): fp32 params and grads, matmuls autocast to 16 bits.
  if (auto ac = root.sub("torch_autocast")) {
    if (ac->has_auto("enabled")) return;
    if (ac->boolean("enabled").value_or(false)) {
      const std::string dtype = ac->text("dtype").value_or("bfloat16");
      if (dtype == "bfloat16" || dtype == "bf16" || dtype == "torch.bfloat16") p.precision = Precision::amp_bf16;
      else if (dtype == "float16" || dtype == "fp16" || dtype == "half" || dtype == "torch.float16") p.precision = Precision::amp_fp16;
      else ac->fail("dtype", "\"bfloat16\" or \"float16\"");
      return;
    }
  }
  p.precision = Precision::fp32;
}

// Top-level "sequence_parallel_size" (DeepSpeed), or the {"sequence_parallel": {"size": N}} block
// users write (seed configs); the top-level key wins when both are present.
std::optional<int> read_sp(const Fields& root, int world) {
  std::optional<int64_t> sp;
  std::string field = "sequence_parallel_size";
  if (root.has("sequence_parallel_size")) {
    sp = root.integer("sequence_parallel_size", 1, 1 << 20, kPositive);
  } else if (auto b = root.sub("sequence_parallel")) {
    field = b->field("size");
    b->reject_unknown({"enabled", "size", "type"});
    const std::optional<bool> on = b->boolean("enabled");
    sp = b->integer("size", 1, 1 << 20, kPositive);
    if (on && !*on) sp = 1;
  }
  if (!sp) return std::nullopt;
  if (world % *sp != 0)
    throw InputError(root.path(), field, "expected a divisor of the " + std::to_string(world) + " GPUs, got " +
                                             std::to_string(*sp));
  return static_cast<int>(*sp);
}

// train_batch_size = micro-batch x gradient accumulation x data-parallel ranks (world / SP), the
// identity DeepSpeed asserts; a missing one of the three is derived as DeepSpeed derives it.
void read_batch(const Fields& root, int dp, StrategyPins& p, TrainingSpec& t) {
  const std::optional<int64_t> micro = root.integer("train_micro_batch_size_per_gpu", 1, 65536, kPositive);
  const std::optional<int64_t> ga = root.integer("gradient_accumulation_steps", 1, 1 << 20, kPositive);
  const std::optional<int64_t> train = root.integer("train_batch_size", 1, int64_t{1} << 40, kPositive);
  if (micro) p.micro_batch = *micro;
  if (ga) p.grad_accumulation = *ga;
  if (!train) return;
  t.global_batch = *train;
  const std::string dp_text = std::to_string(dp) + " data-parallel rank" + (dp == 1 ? "" : "s");
  auto derive = [&](int64_t known, const char* unknown_key) -> int64_t {
    if (*train % (known * dp) != 0)
      throw InputError(root.path(), "train_batch_size",
                       "expected a multiple of " + std::to_string(known * dp) + " (" + std::to_string(known) + " x " +
                           dp_text + ") so that " + unknown_key + " is a whole number, got " + std::to_string(*train));
    return *train / (known * dp);
  };
  if (micro && ga) {
    if (*micro * *ga * dp != *train)
      throw InputError(root.path(), "train_batch_size",
                       "expected train_micro_batch_size_per_gpu x gradient_accumulation_steps x " + dp_text + " = " +
                           std::to_string(*micro) + " x " + std::to_string(*ga) + " x " + std::to_string(dp) + " = " +
                           std::to_string(*micro * *ga * dp) + ", got " + std::to_string(*train));
  } else if (micro && !root.has_auto("gradient_accumulation_steps")) {
    p.grad_accumulation = derive(*micro, "gradient_accumulation_steps");
  } else if (ga && !root.has_auto("train_micro_batch_size_per_gpu")) {
    p.micro_batch = derive(*ga, "train_micro_batch_size_per_gpu");
  } else if (!micro && !ga && !root.has("train_micro_batch_size_per_gpu") && !root.has("gradient_accumulation_steps")) {
    p.grad_accumulation = 1;  // DeepSpeed: only train_batch_size given -> no accumulation
    p.micro_batch = derive(1, "train_micro_batch_size_per_gpu");
  }
}

// activation_checkpointing configures deepspeed.checkpointing.checkpoint for model code that calls
// it; which layers are recomputed is the model code's choice (Hugging Face: --gradient_checkpointing),
// not this block's, so it pins only cpu_checkpointing. number_checkpoints is how many checkpoint
// buffers contiguous_memory_optimization preallocates (runtime/activation_checkpointing/config.py),
// not a layer count; partition_activations splits checkpoints across a tensor-parallel group (none
// here). Both are checked for type and otherwise do not change the prediction.
void read_checkpointing(const Fields& root, StrategyPins& p) {
  auto ac = root.sub("activation_checkpointing");
  if (!ac) return;
  ac->reject_unknown(deepspeed_checkpointing_keys());
  for (const char* k : {"partition_activations", "contiguous_memory_optimization", "synchronize_checkpoint_boundary", "profile"})
    ac->check_boolean(k);
  (void)ac->integer("number_checkpoints", 0, 1 << 20, "a non-negative number of checkpoint buffers");
  if (auto cpu = ac->boolean("cpu_checkpointing")) p.cpu_checkpointing = *cpu;
}

}  // namespace

void apply_deepspeed_config(const std::string& path, Scenario& s) {
  const std::string text = read_text_file(path);
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    std::string why = e.what();
    const size_t cut = why.find("] ");
    if (cut != std::string::npos) why = why.substr(cut + 2);
    // The // comments users paste from blog posts: DeepSpeed's own loader (hjson) tolerates them,
    // but transformers/accelerate read a --deepspeed file with json.load, which does not.
    const bool comment = e.byte >= 1 && e.byte <= text.size() && text[e.byte - 1] == '/';
    throw InputError(path, "", std::string("expected valid JSON") +
                                   (comment ? " (comments are not JSON: transformers and accelerate load this file "
                                              "with json.load, which rejects them)"
                                            : "") +
                                   ": " + why);
  } catch (const json::exception& e) {
    // Valid syntax the parser still refuses, e.g. a number beyond double's range (1e774).
    throw InputError(path, "", std::string("expected valid JSON: ") + e.what());
  }
  if (!root.is_object()) throw InputError(path, "", "expected one JSON object, got " + shown(root));
  const Fields r(root, path, "");
  r.reject_unknown(deepspeed_top_level_keys());
  StrategyPins& p = s.pins;
  if (root.contains("zero_optimization") && root.at("zero_optimization").is_boolean()) {
    // DeepSpeed's pre-0.3 spelling: true is stage 1 (runtime/zero/config.py read_zero_config_deprecated).
    p.zero_stage = root.at("zero_optimization").get<bool>() ? 1 : 0;
  } else if (auto z = r.sub("zero_optimization")) {
    read_zero(*z, s.model.hidden, p, s.training);
  }
  read_precision(r, p);
  const bool wants_bf16 = p.precision == Precision::bf16 || p.precision == Precision::amp_bf16;
  if (wants_bf16 && !s.cluster.gpu.supports_bf16)
    throw InputError(path, p.precision == Precision::bf16 ? (root.contains("bf16") ? "bf16.enabled" : "bfloat16.enabled")
                                                          : "torch_autocast.dtype",
                     "expected fp16: " + s.cluster.gpu.name + " has no bf16 support");
  const std::optional<int> sp = read_sp(r, s.cluster.world_size());
  if (sp) p.sp_degree = *sp;
  read_batch(r, s.cluster.world_size() / sp.value_or(1), p, s.training);
  read_checkpointing(r, p);
  s.training.framework = Framework::deepspeed;
}

}  // namespace zplan
