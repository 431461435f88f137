// Hugging Face config.json importer (see hf_config.h). Defaults per model_type follow the
// transformers configuration classes (GPT2Config, LlamaConfig, MistralConfig, Qwen2Config,
// Qwen3Config, Qwen3MoeConfig, MixtralConfig, Gemma3TextConfig).
#include "planner/io/hf_config.h"

#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "planner/input_error.h"
#include "planner/io/model_loader.h"
#include "planner/io/yaml_fields.h"

namespace zplan {

namespace {

using nlohmann::json;

// Reads fields of one JSON object, collecting every missing required field so that a single
// error can list them all. Wrong types throw at once.
class JsonFields {
 public:
  JsonFields(const json& obj, std::string source, std::string prefix)
      : obj_(obj), source_(std::move(source)), prefix_(std::move(prefix)) {}

  bool has(const char* key) const { return obj_.contains(key) && !obj_.at(key).is_null(); }
  std::string name(const char* key) const { return prefix_ + key; }
  std::string string_or(const char* key, const std::string& fallback) const {
    return has(key) && obj_.at(key).is_string() ? obj_.at(key).get<std::string>() : fallback;
  }

  // A positive integer; nullopt (and the key recorded as missing) when absent and required.
  std::optional<int64_t> integer(const char* key, bool required, int64_t min = 1) {
    if (!has(key)) {
      if (required) missing_.push_back(name(key));
      return std::nullopt;
    }
    const json& v = obj_.at(key);
    int64_t out = 0;
    if (v.is_number_integer()) {
      out = v.get<int64_t>();
    } else if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
               std::fabs(v.get<double>()) < 9e18) {
      out = static_cast<int64_t>(v.get<double>());  // 4096.0 from a hand-edited file
    } else {
      throw InputError(source_, name(key), "expected an integer >= " + std::to_string(min) + ", got " + v.dump());
    }
    if (out < min)
      throw InputError(source_, name(key), "expected an integer >= " + std::to_string(min) + ", got " + v.dump());
    const int64_t max = limit(key);
    if (out > max)
      throw InputError(source_, name(key), "expected an integer <= " + std::to_string(max) + ", got " + v.dump());
    return out;
  }
  int64_t integer_or(const char* key, int64_t fallback, int64_t min = 1) {
    return integer(key, false, min).value_or(fallback);
  }
  bool boolean_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = obj_.at(key);
    if (!v.is_boolean()) throw InputError(source_, name(key), "expected true or false, got " + v.dump());
    return v.get<bool>();
  }
  double probability_or(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const json& v = obj_.at(key);
    if (!v.is_number() || v.get<double>() < 0 || v.get<double>() >= 1)
      throw InputError(source_, name(key), "expected a probability in [0, 1), got " + v.dump());
    return v.get<double>();
  }
  // A number in [min, max] (epsilons, RoPE bases).
  double number_or(const char* key, double fallback, double min, double max) const {
    if (!has(key)) return fallback;
    const json& v = obj_.at(key);
    if (!v.is_number() || v.get<double>() < min || v.get<double>() > max)
      throw InputError(source_, name(key), "expected a number in [" + json(min).dump() + ", " + json(max).dump() +
                                               "], got " + v.dump());
    return v.get<double>();
  }
  std::vector<int> int_list(const char* key) const {
    std::vector<int> out;
    if (!has(key)) return out;
    const json& v = obj_.at(key);
    if (!v.is_array()) throw InputError(source_, name(key), "expected a list of layer indices, got " + v.dump());
    for (const json& item : v) {
      if (!item.is_number_integer() || item.get<int64_t>() < 0)
        throw InputError(source_, name(key), "expected a list of layer indices, got " + v.dump());
      out.push_back(static_cast<int>(item.get<int64_t>()));
    }
    return out;
  }
  const json& raw(const char* key) const { return obj_.at(key); }
  const json* object(const char* key) const { return has(key) && obj_.at(key).is_object() ? &obj_.at(key) : nullptr; }
  const std::string& source() const { return source_; }
  const std::vector<std::string>& missing() const { return missing_; }
  // Heads that do not split the hidden size leave no whole head size: the model cannot be built.
  void require_divides(const char* heads_key, int64_t heads, const char* hidden_key, int64_t hidden) const {
    if (heads > 0 && hidden > 0 && hidden % heads != 0)
      throw InputError(source_, name(heads_key), "expected a divisor of " + name(hidden_key) + " (" +
                                                     std::to_string(hidden) + ") when head_dim is not given, got " +
                                                     std::to_string(heads));
  }

 private:
  // Values beyond these are typos, not models (the same limits as validate_model, in HF names).
  static int64_t limit(const std::string& key) {
    if (key == "n_layer" || key == "num_hidden_layers") return 10'000;
    if (key == "n_embd" || key == "hidden_size" || key == "n_head" || key == "num_attention_heads" ||
        key == "num_key_value_heads" || key == "head_dim")
      return 1'000'000;
    if (key == "vocab_size" || key == "n_positions" || key == "n_ctx" || key == "max_position_embeddings")
      return 100'000'000;
    if (key == "num_experts" || key == "num_local_experts" || key == "num_experts_per_tok") return 100'000;
    return 100'000'000;  // FFN sizes
  }

  const json& obj_;
  std::string source_;
  std::string prefix_;
  std::vector<std::string> missing_;
};

const std::vector<std::string> kKnownTypes = {
    "gpt2", "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe",
    "phi3", "granite", "smollm3", "gemma3", "gemma3_text"};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

std::string model_name(const json& config, const std::string& source) {
  if (config.contains("_name_or_path") && config["_name_or_path"].is_string() &&
      !config["_name_or_path"].get<std::string>().empty())
    return config["_name_or_path"].get<std::string>();
  // ".../Qwen3-8B/config.json" -> "Qwen3-8B"; "tests/data/hf/gpt2.json" -> "gpt2".
  std::string path = source;
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base == "config.json" && slash != std::string::npos) {
    path = path.substr(0, slash);
    slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
  }
  const size_t dot = base.find_last_of('.');
  return dot == std::string::npos ? base : base.substr(0, dot);
}

ModelSpec gpt2_from(JsonFields& f) {
  ModelSpec m;
  m.family = "gpt2";
  m.hidden = f.integer("n_embd", true).value_or(0);
  m.layers = f.integer("n_layer", true).value_or(0);
  m.heads = f.integer("n_head", true).value_or(0);
  m.vocab = f.integer("vocab_size", true).value_or(0);
  // n_ctx is the older spelling of n_positions; GPT2Config defaults both to 1024.
  m.max_positions = f.integer_or("n_positions", f.integer_or("n_ctx", 1024));
  m.ffn = f.integer_or("n_inner", 4 * m.hidden);  // null in every public GPT-2 config
  m.kv_heads = m.heads;
  m.head_dim = m.heads > 0 ? m.hidden / m.heads : 0;
  f.require_divides("n_head", m.heads, "n_embd", m.hidden);
  m.norm = NormKind::layer_norm;
  m.norm_eps = f.number_or("layer_norm_epsilon", 1e-5, 1e-12, 0.1);
  m.mlp = MlpKind::gelu_mlp;
  m.qkv_projection = QkvProjection::c_attn;  // GPT2Attention's Conv1D c_attn
  m.attention_softmax_fp32 = false;          // GPT-2's eager softmax keeps the input dtype
  // GPT2Config's activation_function defaults to "gelu_new", the composite formula.
  m.composite_gelu = f.string_or("activation_function", "gelu_new") == "gelu_new";
  m.position = PositionKind::learned;
  m.tied_embeddings = f.boolean_or("tie_word_embeddings", true);
  m.qkv_bias = true;
  m.out_bias = true;
  // GPT2Config defaults all three to 0.1; embd_pdrop and resid_pdrop are equal in public configs.
  m.hidden_dropout = f.probability_or("resid_pdrop", 0.1);
  m.attention_dropout = f.probability_or("attn_pdrop", 0.1);
  return m;
}

// rope_parameters.rope_theta (transformers 5's config.json), else `fallback`.
double rope_parameters_theta(const JsonFields& f, double fallback) {
  const json* p = f.object("rope_parameters");
  if (p == nullptr || !p->contains("rope_theta")) return fallback;
  JsonFields inner(*p, f.source(), f.name("rope_parameters."));
  return inner.number_or("rope_theta", fallback, 1.0, 1e12);
}

// A linear RoPE scaling dict ({rope_type|type: linear, factor}) -> factor; default/absent -> 1.
// Other scalings would change the runtime's rotation, so they are refused rather than ignored.
double linear_rope_factor(const JsonFields& f, const char* key) {
  const json* p = f.object(key);
  if (p == nullptr) return 1.0;
  JsonFields inner(*p, f.source(), f.name(key) + ".");
  const std::string type = inner.string_or("rope_type", inner.string_or("type", "default"));
  if (type == "default") return 1.0;
  if (type != "linear")
    throw InputError(f.source(), f.name(key) + ".rope_type", "Gemma 3 is modelled with linear or default RoPE, got \"" + type + "\"");
  return inner.number_or("factor", 1.0, 1.0, 1e6);
}

// Gemma 3: sliding layers rotate with rope_local_base_freq, global ones with rope_theta (scaled
// by rope_scaling); scores are scaled by query_pre_attn_scalar^-0.5. transformers 5 writes the
// bases per layer type: rope_parameters {full_attention: {...}, sliding_attention: {...}}.
void gemma_rope_and_scale(const JsonFields& f, ModelSpec& m) {
  m.query_pre_attn_scalar = f.number_or("query_pre_attn_scalar", 256.0, 1.0, 1e9);
  m.rope_local_theta = f.number_or("rope_local_base_freq", 10000.0, 1.0, 1e12);
  m.rope_linear_factor = linear_rope_factor(f, "rope_scaling");
  // Newer configs list layer_types instead of the pattern: every pattern-th layer is full_attention.
  if (f.has("layer_types") && f.object("layer_types") == nullptr) {
    const json& types = f.raw("layer_types");
    int pattern = 0;
    for (size_t i = 0; types.is_array() && i < types.size() && pattern == 0; ++i)
      if (types[i] == "full_attention") pattern = static_cast<int>(i + 1);
    for (size_t i = 0; i < (types.is_array() ? types.size() : 1); ++i) {
      const bool full = pattern > 0 && (i + 1) % static_cast<size_t>(pattern) == 0;
      if (!types.is_array() || types[i] != (full ? "full_attention" : "sliding_attention"))
        throw InputError(f.source(), f.name("layer_types"),
                         "expected sliding_attention layers with every N-th full_attention, got " + types.dump());
    }
    m.sliding_window_pattern = pattern;
  }
  const json* per_type = f.object("rope_parameters");
  if (per_type == nullptr) return;
  const JsonFields types(*per_type, f.source(), f.name("rope_parameters."));
  if (const json* full = types.object("full_attention")) {
    const JsonFields g(*full, f.source(), types.name("full_attention."));
    m.rope_theta = g.number_or("rope_theta", m.rope_theta, 1.0, 1e12);
    if (!f.has("rope_scaling")) m.rope_linear_factor = linear_rope_factor(types, "full_attention");
  }
  if (const json* local = types.object("sliding_attention")) {
    const JsonFields l(*local, f.source(), types.name("sliding_attention."));
    m.rope_local_theta = l.number_or("rope_theta", m.rope_local_theta, 1.0, 1e12);
  }
}

// llama, mistral, qwen2, qwen3, qwen3_moe, qwen2_moe, mixtral, phi3, granite, smollm3, gemma3_text:
// the Llama-shaped decoders (RMSNorm, q/k/v/o projections, RoPE, gated MLP or MoE). Granite's
// scalar multipliers and SmolLM3's RoPE-free layers change no tensor sizes.
ModelSpec decoder_from(JsonFields& f, const std::string& type) {
  ModelSpec m;
  const bool qwen3 = type == "qwen3" || type == "qwen3_moe";
  const bool gemma = type == "gemma3_text";
  m.family = gemma ? "gemma3" : type;
  m.hidden = f.integer("hidden_size", true).value_or(0);
  m.layers = f.integer("num_hidden_layers", true).value_or(0);
  m.heads = f.integer("num_attention_heads", true).value_or(0);
  // gemma-3-27b-it's text_config omits vocab_size: Gemma3TextConfig defaults it to 262208.
  m.vocab = gemma ? f.integer_or("vocab_size", 262208) : f.integer("vocab_size", true).value_or(0);
  m.kv_heads = f.integer_or("num_key_value_heads", m.heads);
  const int64_t head_dim_default = qwen3 ? 128 : gemma ? 256 : (m.heads > 0 ? m.hidden / m.heads : 0);
  m.head_dim = f.integer_or("head_dim", head_dim_default);
  // transformers sizes each head as hidden_size / num_attention_heads unless head_dim is given.
  if (!f.has("head_dim") && !qwen3 && !gemma) f.require_divides("num_attention_heads", m.heads, "hidden_size", m.hidden);
  const int64_t positions_default = type == "llama" ? 2048
                                    : (type == "mistral" || type == "mixtral") ? 131072
                                    : gemma ? 131072
                                            : 32768;
  m.max_positions = f.integer_or("max_position_embeddings", positions_default);
  m.norm = gemma ? NormKind::gemma_rms_norm : NormKind::rms_norm;
  m.norm_eps = f.number_or("rms_norm_eps", (type == "phi3" || type == "mixtral") ? 1e-5 : 1e-6, 1e-12, 0.1);
  m.mlp = gemma ? MlpKind::geglu : MlpKind::swiglu;
  m.position = PositionKind::rope;
  // The configuration classes' defaults when the key is absent (public configs carry it).
  const double theta_default = type == "smollm3" ? 2e6 : (gemma || type == "mixtral") ? 1e6 : 1e4;
  // transformers 5 writes the base inside rope_parameters (rope_theta at the top level is older).
  m.rope_theta = f.number_or("rope_theta", rope_parameters_theta(f, theta_default), 1.0, 1e12);
  m.tied_embeddings = f.boolean_or("tie_word_embeddings", gemma);  // only Gemma ties by default
  m.qk_norm = qwen3 || gemma;
  m.sandwich_norm = gemma;
  m.scaled_embeddings = gemma;  // Gemma multiplies the embeddings by sqrt(hidden_size)
  // Sliding-window attention: Gemma-3 slides on 5 of every 6 layers (sliding_window_pattern, or
  // layer_types in newer configs); Mistral v0.1, Mixtral and Phi-3 slide everywhere when
  // sliding_window is set (Mixtral's published configs leave it null); Qwen only with use_sliding_window.
  const bool slides = gemma || type == "mistral" || type == "mixtral" || type == "phi3" ||
                      f.boolean_or("use_sliding_window", false);
  if (slides) m.sliding_window = f.integer_or("sliding_window", gemma ? 4096 : 0, 0);
  if (gemma) m.sliding_window_pattern = static_cast<int>(f.integer_or("sliding_window_pattern", 6, 0));
  if (gemma) gemma_rope_and_scale(f, m);
  m.attention_dropout = f.probability_or("attention_dropout", 0.0);  // these types have no hidden dropout
  // Qwen2 hard-codes q/k/v biases; the others have attention_bias (default false), which also puts
  // a bias on o_proj (C per layer, not modelled).
  m.qkv_bias = (type == "qwen2" || type == "qwen2_moe") ? true : f.boolean_or("attention_bias", false);
  // Phi-3 projects q, k and v with one matmul (and gate/up with another): v stays a view of it.
  if (type == "phi3") {
    m.qkv_projection = QkvProjection::fused;
    m.fused_gate_up_proj = true;
  }
  if (type == "qwen3_moe" || type == "qwen2_moe") {
    // Qwen MoE: routed experts in every decoder_sparse_step-th layer (mlp_only_layers dense);
    // Qwen2-MoE adds one shared expert MLP, gated by a sigmoid, next to them.
    m.ffn = f.integer_or("intermediate_size", type == "qwen3_moe" ? 6144 : 5632, 0);  // dense layers only
    // transformers 5 serialises Qwen3-MoE's num_experts under its attribute_map name num_local_experts.
    const char* experts_key = !f.has("num_experts") && f.has("num_local_experts") ? "num_local_experts" : "num_experts";
    m.moe.num_experts = static_cast<int>(f.integer(experts_key, true).value_or(0));
    m.moe.experts_per_token = static_cast<int>(f.integer("num_experts_per_tok", true).value_or(0));
    m.moe.expert_ffn = f.integer("moe_intermediate_size", true).value_or(0);
    m.moe.normalize_topk = f.boolean_or("norm_topk_prob", false);
    m.moe.sparse_step = static_cast<int>(f.integer_or("decoder_sparse_step", 1));
    m.moe.dense_layers = f.int_list("mlp_only_layers");
    m.moe.shared_expert_ffn = f.integer_or("shared_expert_intermediate_size", 0, 0);
    m.moe.shared_experts = m.moe.shared_expert_ffn > 0 ? 1 : 0;
    m.moe.shared_expert_gate = m.moe.shared_experts > 0;  // Qwen2MoeSparseMoeBlock.shared_expert_gate
  } else if (type == "mixtral") {
    m.ffn = f.integer("intermediate_size", true).value_or(0);
    m.moe.num_experts = static_cast<int>(f.integer("num_local_experts", true).value_or(0));
    m.moe.experts_per_token = static_cast<int>(f.integer("num_experts_per_tok", true).value_or(0));
    m.moe.expert_ffn = m.ffn;  // every Mixtral layer is sparse; each expert has intermediate_size
    m.moe.normalize_topk = true;
  } else {
    m.ffn = f.integer("intermediate_size", true).value_or(0);
  }
  return m;
}

std::string type_of(const json& obj, const std::string& source, const std::string& field) {
  if (!obj.contains("model_type") || obj["model_type"].is_null())
    throw InputError(source, field, "missing; expected one of " + join(kKnownTypes));
  if (!obj["model_type"].is_string())
    throw InputError(source, field, "expected one of " + join(kKnownTypes) + ", got " + obj["model_type"].dump());
  return obj["model_type"].get<std::string>();
}

}  // namespace

ModelSpec model_from_hf_config(const json& config, const std::string& source) {
  if (!config.is_object()) throw InputError(source, "", "expected a JSON object (a Hugging Face config.json)");
  std::string type = type_of(config, source, "model_type");
  bool known = false;
  for (const std::string& t : kKnownTypes) known = known || t == type;
  if (!known)
    throw InputError(source, "model_type",
                     "unsupported model_type \"" + type + "\"; expected one of " + join(kKnownTypes));

  // Multimodal Gemma 3 keeps the language model in text_config; the vision tower is not modelled.
  const json* obj = &config;
  std::string prefix;
  if (type == "gemma3") {
    if (!config.contains("text_config") || !config["text_config"].is_object())
      throw InputError(source, "text_config", "missing; expected the language model's settings (model_type gemma3)");
    obj = &config["text_config"];
    prefix = "text_config.";
    type = "gemma3_text";
  }

  JsonFields f(*obj, source, prefix);
  ModelSpec m = type == "gpt2" ? gpt2_from(f) : decoder_from(f, type);
  if (!f.missing().empty())
    throw InputError(source, join(f.missing()),
                     "missing, required for model_type \"" + type_of(config, source, "model_type") + "\"");
  m.name = model_name(config, source);
  m.source = source;
  if (m.kv_heads > m.heads || m.heads % m.kv_heads != 0)
    throw InputError(source, prefix + "num_key_value_heads",
                     "expected a divisor of num_attention_heads (" + std::to_string(m.heads) + "), got " +
                         std::to_string(m.kv_heads));
  validate_model(m);
  return m;
}

ModelSpec load_hf_config_file(const std::string& path) {
  const std::string text = read_text_file(path);
  json config;
  try {
    config = json::parse(text);
  } catch (const json::exception& e) {
    // parse_error and also out_of_range (a number beyond double's range such as 1e774).
    throw InputError(path, "", std::string("invalid JSON: ") + e.what());
  }
  return model_from_hf_config(config, path);
}

}  // namespace zplan
