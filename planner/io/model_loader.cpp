// Model registry and loaders (see model_loader.h). Built-in files are parsed once, on first use.
#include "planner/io/model_loader.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sys/stat.h>

#include "planner/input_error.h"
#include "planner/io/builtin_data.h"
#include "planner/io/hf_config.h"
#include "planner/io/suggest.h"
#include "planner/io/yaml_fields.h"

namespace zplan {

namespace {

// Limits beyond which a shape is a typo, not a model (the largest public models have ~200 layers,
// hidden 25k, vocab 1M, and a few thousand experts).
constexpr int64_t kMaxLayers = 10'000;
constexpr int64_t kMaxHidden = 1'000'000;
constexpr int64_t kMaxVocab = 100'000'000;
constexpr int64_t kMaxPositions = 100'000'000;
constexpr int64_t kMaxExperts = 100'000;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string file_stem(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = base.find_last_of('.');
  return dot == std::string::npos ? base : base.substr(0, dot);
}

struct BuiltinModel {
  ModelSpec spec;
  std::vector<std::string> aliases;
};

const std::vector<std::string> kModelKeys = {
    "name", "family", "aliases", "published_parameters", "layers", "hidden", "heads", "kv_heads",
    "head_dim", "ffn", "vocab", "max_positions", "norm", "mlp", "position", "tied_embeddings",
    "qk_norm", "qkv_bias", "out_bias", "sandwich_norm", "scaled_embeddings", "hidden_dropout",
    "sliding_window", "sliding_window_pattern", "composite_gelu",
    "attention_dropout", "moe", "norm_eps", "rope_theta", "qkv_projection", "fused_gate_up_proj",
    "attention_softmax_fp32", "rope_local_theta", "rope_linear_factor", "query_pre_attn_scalar"};
const std::vector<std::string> kMoeKeys = {
    "num_experts", "experts_per_token", "expert_ffn", "normalize_topk", "shared_experts",
    "shared_expert_ffn", "shared_expert_gate", "first_dense_layers", "sparse_step", "dense_layers"};

ModelSpec parse_model_node(const FieldReader& r, std::vector<std::string>* aliases) {
  r.reject_unknown(kModelKeys);
  ModelSpec m;
  m.source = r.where();
  m.name = r.optional_string("name").value_or(file_stem(r.where()));
  m.family = r.optional_string("family").value_or("");
  if (aliases) *aliases = r.optional_string_list("aliases");
  m.published_parameters = r.optional_int("published_parameters", 0).value_or(0);
  m.layers = r.required_int("layers", 1, kMaxLayers);
  m.hidden = r.required_int("hidden", 1, kMaxHidden);
  m.heads = r.required_int("heads", 1, kMaxHidden);
  m.kv_heads = r.optional_int("kv_heads", 1, kMaxHidden).value_or(m.heads);
  m.head_dim = r.optional_int("head_dim", 1, kMaxHidden).value_or(m.hidden / m.heads);
  m.ffn = r.required_int("ffn", 0, 100 * kMaxHidden);
  m.vocab = r.required_int("vocab", 1, kMaxVocab);
  const std::string norm =
      r.optional_choice("norm", {"rms_norm", "layer_norm", "gemma_rms_norm"}).value_or("rms_norm");
  m.norm = norm == "layer_norm" ? NormKind::layer_norm
           : norm == "gemma_rms_norm" ? NormKind::gemma_rms_norm : NormKind::rms_norm;
  // Without the key: 1e-5 for LayerNorm (GPT-2), 1e-6 for RMSNorm (Qwen's rms_norm_eps).
  m.norm_eps = r.optional_double("norm_eps", 1e-12, 0.1).value_or(m.norm == NormKind::layer_norm ? 1e-5 : 1e-6);
  const std::string mlp = r.optional_choice("mlp", {"swiglu", "gelu_mlp", "geglu"}).value_or("swiglu");
  m.mlp = mlp == "gelu_mlp" ? MlpKind::gelu_mlp : mlp == "geglu" ? MlpKind::geglu : MlpKind::swiglu;
  const std::string pos = r.optional_choice("position", {"rope", "learned"}).value_or("rope");
  m.position = pos == "learned" ? PositionKind::learned : PositionKind::rope;
  m.rope_theta = r.optional_double("rope_theta", 1.0, 1e12).value_or(10000.0);  // transformers' default base
  m.rope_local_theta = r.optional_double("rope_local_theta", 1.0, 1e12).value_or(0.0);  // 0: rope_theta everywhere
  m.rope_linear_factor = r.optional_double("rope_linear_factor", 1.0, 1e6).value_or(1.0);
  m.query_pre_attn_scalar = r.optional_double("query_pre_attn_scalar", 1.0, 1e9).value_or(0.0);  // 0: head_dim
  const std::string qkv =
      r.optional_choice("qkv_projection", {"separate", "fused", "c_attn"}).value_or("separate");
  m.qkv_projection = qkv == "c_attn" ? QkvProjection::c_attn
                     : qkv == "fused" ? QkvProjection::fused : QkvProjection::separate;
  m.fused_gate_up_proj = r.optional_bool("fused_gate_up_proj").value_or(false);
  m.attention_softmax_fp32 = r.optional_bool("attention_softmax_fp32").value_or(true);
  // A learned position table has max_positions rows, so it is required there.
  if (m.position == PositionKind::learned)
    m.max_positions = r.required_int("max_positions", 1, kMaxPositions);
  else
    m.max_positions = r.optional_int("max_positions", 0, kMaxPositions).value_or(0);
  m.tied_embeddings = r.optional_bool("tied_embeddings").value_or(false);
  m.qk_norm = r.optional_bool("qk_norm").value_or(false);
  m.qkv_bias = r.optional_bool("qkv_bias").value_or(false);
  m.out_bias = r.optional_bool("out_bias").value_or(false);
  m.sandwich_norm = r.optional_bool("sandwich_norm").value_or(false);
  m.scaled_embeddings = r.optional_bool("scaled_embeddings").value_or(false);
  m.composite_gelu = r.optional_bool("composite_gelu").value_or(false);
  m.sliding_window = r.optional_int("sliding_window", 0, 100'000'000).value_or(0);
  m.sliding_window_pattern = static_cast<int>(r.optional_int("sliding_window_pattern", 0, 1000).value_or(0));
  m.hidden_dropout = r.optional_double("hidden_dropout", 0.0, 0.999).value_or(0.0);
  m.attention_dropout = r.optional_double("attention_dropout", 0.0, 0.999).value_or(0.0);
  if (r.has("moe")) {
    const FieldReader moe = r.sub("moe");
    moe.reject_unknown(kMoeKeys);
    m.moe.num_experts = static_cast<int>(moe.required_int("num_experts", 1, kMaxExperts));
    m.moe.experts_per_token = static_cast<int>(moe.required_int("experts_per_token", 1, kMaxExperts));
    m.moe.expert_ffn = moe.required_int("expert_ffn", 1, 100 * kMaxHidden);
    m.moe.normalize_topk = moe.optional_bool("normalize_topk").value_or(true);
    m.moe.shared_experts = static_cast<int>(moe.optional_int("shared_experts", 0, kMaxExperts).value_or(0));
    m.moe.shared_expert_ffn = moe.optional_int("shared_expert_ffn", 0, 100 * kMaxHidden).value_or(0);
    m.moe.shared_expert_gate = moe.optional_bool("shared_expert_gate").value_or(false);
    m.moe.first_dense_layers = static_cast<int>(moe.optional_int("first_dense_layers", 0, kMaxLayers).value_or(0));
    m.moe.sparse_step = static_cast<int>(moe.optional_int("sparse_step", 1, kMaxLayers).value_or(1));
    for (int64_t i : moe.optional_int_list("dense_layers", 0, kMaxLayers))
      m.moe.dense_layers.push_back(static_cast<int>(i));
  }
  validate_model(m);
  return m;
}

const std::vector<BuiltinModel>& builtin_models() {
  static const std::vector<BuiltinModel> models = [] {
    std::vector<BuiltinModel> out;
    for (const BuiltinFile& f : builtin_files()) {
      if (f.path.rfind("models/", 0) != 0) continue;
      BuiltinModel b;
      b.spec = parse_model_node(FieldReader(parse_yaml_text(f.content, f.path), f.path), &b.aliases);
      out.push_back(std::move(b));
    }
    std::sort(out.begin(), out.end(),
              [](const BuiltinModel& a, const BuiltinModel& b) { return a.spec.name < b.spec.name; });
    return out;
  }();
  return models;
}

const BuiltinModel* find_builtin(const std::string& name) {
  const std::string key = lower(name);
  for (const BuiltinModel& b : builtin_models()) {
    if (lower(b.spec.name) == key) return &b;
    for (const std::string& a : b.aliases)
      if (lower(a) == key) return &b;
  }
  return nullptr;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

std::vector<std::string> suggestions_for(const std::string& query) {
  // Score canonical names by their closest spelling (name or alias), then report canonical names.
  std::vector<std::string> spellings, owners;
  for (const BuiltinModel& b : builtin_models()) {
    spellings.push_back(b.spec.name);
    owners.push_back(b.spec.name);
    for (const std::string& a : b.aliases) {
      spellings.push_back(a);
      owners.push_back(b.spec.name);
    }
  }
  std::vector<std::string> ranked = closest_names(query, spellings, spellings.size());
  std::vector<std::string> out;
  for (const std::string& s : ranked) {
    const size_t i = static_cast<size_t>(std::find(spellings.begin(), spellings.end(), s) - spellings.begin());
    if (std::find(out.begin(), out.end(), owners[i]) == out.end()) out.push_back(owners[i]);
    if (out.size() == 3) break;
  }
  return out;
}

}  // namespace

const char* to_string(NormKind k) {
  switch (k) {
    case NormKind::layer_norm: return "layer_norm";
    case NormKind::rms_norm: return "rms_norm";
    case NormKind::gemma_rms_norm: return "gemma_rms_norm";
  }
  return "?";
}
const char* to_string(QkvProjection k) {
  switch (k) {
    case QkvProjection::separate: return "separate";
    case QkvProjection::fused: return "fused";
    case QkvProjection::c_attn: return "c_attn";
  }
  return "?";
}
const char* to_string(MlpKind k) {
  switch (k) {
    case MlpKind::gelu_mlp: return "gelu_mlp";
    case MlpKind::swiglu: return "swiglu";
    case MlpKind::geglu: return "geglu";
  }
  return "?";
}
const char* to_string(PositionKind k) { return k == PositionKind::learned ? "learned" : "rope"; }

void validate_model(const ModelSpec& m) {
  const std::string& w = m.source.empty() ? m.name : m.source;
  auto check_range = [&](const char* field, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi)
      throw InputError(w, field, "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                     "], got " + std::to_string(v));
  };
  check_range("layers", m.layers, 1, kMaxLayers);
  check_range("hidden", m.hidden, 1, kMaxHidden);
  check_range("heads", m.heads, 1, kMaxHidden);
  check_range("kv_heads", m.kv_heads, 1, m.heads);
  check_range("head_dim", m.head_dim, 1, kMaxHidden);
  check_range("vocab", m.vocab, 1, kMaxVocab);
  check_range("max_positions", m.max_positions, m.position == PositionKind::learned ? 1 : 0, kMaxPositions);
  check_range("published_parameters", m.published_parameters, 0, int64_t{1} << 50);
  if (!(m.norm_eps > 0 && m.norm_eps <= 0.1))
    throw InputError(w, "norm_eps", "expected a number in (0, 0.1], got " + std::to_string(m.norm_eps));
  if (!(m.rope_theta >= 1 && m.rope_theta <= 1e12))
    throw InputError(w, "rope_theta", "expected a number in [1, 1e12], got " + std::to_string(m.rope_theta));
  if (m.qkv_projection == QkvProjection::c_attn && m.q_dim() + 2 * m.kv_dim() != 3 * m.hidden)
    throw InputError(w, "qkv_projection", "c_attn (GPT-2's Conv1D [C, 3C]) needs heads * head_dim == hidden "
                                          "and kv_heads == heads");
  if (!(m.hidden_dropout >= 0 && m.hidden_dropout < 1))
    throw InputError(w, "hidden_dropout", "expected a probability in [0, 1), got " + std::to_string(m.hidden_dropout));
  if (!(m.attention_dropout >= 0 && m.attention_dropout < 1))
    throw InputError(w, "attention_dropout",
                     "expected a probability in [0, 1), got " + std::to_string(m.attention_dropout));
  if (m.heads % m.kv_heads != 0)
    throw InputError(w, "kv_heads", "expected a divisor of heads (" + std::to_string(m.heads) + "), got " +
                                        std::to_string(m.kv_heads));
  // Dense layers need an MLP size; an all-sparse MoE model may leave it at 0.
  const bool any_dense = m.sparse_layer_count() < m.layers;
  check_range("ffn", m.ffn, any_dense ? 1 : 0, 100 * kMaxHidden);
  if (!m.is_moe()) {
    if (m.moe.experts_per_token != 0 || m.moe.expert_ffn != 0 || m.moe.shared_experts != 0)
      throw InputError(w, "moe.num_experts", "expected > 0 when other moe fields are set");
    return;
  }
  check_range("moe.num_experts", m.moe.num_experts, 1, kMaxExperts);
  check_range("moe.experts_per_token", m.moe.experts_per_token, 1, m.moe.num_experts);
  check_range("moe.expert_ffn", m.moe.expert_ffn, 1, 100 * kMaxHidden);
  check_range("moe.sparse_step", m.moe.sparse_step, 1, kMaxLayers);
  check_range("moe.first_dense_layers", m.moe.first_dense_layers, 0, m.layers - 1);
  check_range("moe.shared_experts", m.moe.shared_experts, 0, kMaxExperts);
  if ((m.moe.shared_experts > 0) != (m.moe.shared_expert_ffn > 0))
    throw InputError(w, "moe.shared_expert_ffn",
                     "expected > 0 exactly when moe.shared_experts > 0 (got shared_experts " +
                         std::to_string(m.moe.shared_experts) + ", shared_expert_ffn " +
                         std::to_string(m.moe.shared_expert_ffn) + ")");
  if (m.moe.shared_expert_gate && m.moe.shared_experts == 0)
    throw InputError(w, "moe.shared_expert_gate", "expected only with moe.shared_experts > 0");
  for (int i : m.moe.dense_layers) check_range("moe.dense_layers", i, 0, m.layers - 1);
  if (m.sparse_layer_count() == 0)
    throw InputError(w, "moe", "no layer is sparse with these first_dense_layers/sparse_step/dense_layers");
}

ModelSpec parse_model_yaml(const std::string& text, const std::string& source) {
  return parse_model_node(FieldReader(parse_yaml_text(text, source), source), nullptr);
}

std::vector<std::string> builtin_model_names() {
  std::vector<std::string> names;
  for (const BuiltinModel& b : builtin_models()) names.push_back(b.spec.name);
  return names;
}

std::vector<std::string> builtin_model_aliases(const std::string& name) {
  const BuiltinModel* b = find_builtin(name);
  return b ? b->aliases : std::vector<std::string>{};
}

ModelSpec load_model(const std::string& name_or_path) { return load_model(name_or_path, "--model", ""); }

ModelSpec load_model(const std::string& name_or_path, const std::string& where, const std::string& field) {
  const std::string& q = name_or_path;
  if (q.empty()) throw InputError(where, field, "expected a model name or a path, got nothing");
  // Built-in names first: "Qwen/Qwen3-30B-A3B" is an alias even though it looks like a path.
  if (const BuiltinModel* b = find_builtin(q)) return b->spec;
  const std::string lq = lower(q);
  if (ends_with(lq, ".yaml") || ends_with(lq, ".yml")) {
    return parse_model_yaml(read_text_file(q), q);
  }
  if (ends_with(lq, ".json")) return load_hf_config_file(q);
  if (is_directory(q)) {
    const std::string cfg = q + (ends_with(q, "/") ? "" : "/") + "config.json";
    if (!exists(cfg)) throw InputError(q, "", "directory has no config.json (expected a Hugging Face model directory)");
    return load_hf_config_file(cfg);
  }
  std::string problem = "unknown model \"" + q + "\" (not a built-in name, a .yaml file or a config.json)";
  const std::string hint = did_you_mean(suggestions_for(q));
  if (!hint.empty()) problem += "; " + hint;
  throw InputError(where, field, problem);
}

}  // namespace zplan
