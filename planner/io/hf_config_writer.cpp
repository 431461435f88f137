// ModelSpec -> config.json, and config.json vs --model (see hf_config_writer.h). Keys follow the
// transformers 5.17 configuration classes; rope_theta is written both at the top level (older
// readers) and inside rope_parameters (transformers 5).
#include "planner/io/hf_config_writer.h"

#include <cmath>

#include "planner/input_error.h"

namespace zplan {

std::string hf_model_type(const ModelSpec& m) {
  if (m.qkv_projection == QkvProjection::c_attn) return "gpt2";
  if (m.sandwich_norm || m.norm == NormKind::gemma_rms_norm) return "gemma3_text";
  if (m.qkv_projection == QkvProjection::fused || m.fused_gate_up_proj) return "phi3";
  if (m.is_moe()) {
    if (m.moe.shared_experts > 0) return "qwen2_moe";
    return m.qk_norm ? "qwen3_moe" : "mixtral";
  }
  if (m.qk_norm) return "qwen3";
  if (m.qkv_bias) return "qwen2";
  if (m.family == "mistral") return "mistral";
  return "llama";
}

namespace {

std::string architecture(const std::string& type) {
  if (type == "gpt2") return "GPT2LMHeadModel";
  if (type == "gemma3_text") return "Gemma3ForCausalLM";
  if (type == "phi3") return "Phi3ForCausalLM";
  if (type == "qwen2_moe") return "Qwen2MoeForCausalLM";
  if (type == "qwen3_moe") return "Qwen3MoeForCausalLM";
  if (type == "mixtral") return "MixtralForCausalLM";
  if (type == "qwen3") return "Qwen3ForCausalLM";
  if (type == "qwen2") return "Qwen2ForCausalLM";
  if (type == "mistral") return "MistralForCausalLM";
  return "LlamaForCausalLM";
}

nlohmann::json gpt2_config(const ModelSpec& m) {
  return {{"n_embd", m.hidden}, {"n_layer", m.layers}, {"n_head", m.heads}, {"n_inner", m.ffn},
          {"vocab_size", m.vocab}, {"n_positions", m.max_positions}, {"n_ctx", m.max_positions},
          {"layer_norm_epsilon", m.norm_eps},
          // The runtime's GPT-2 MLP is gelu_new (runtime/model/blocks.cpp) whatever the spec says.
          {"activation_function", "gelu_new"},
          {"resid_pdrop", m.hidden_dropout}, {"embd_pdrop", m.hidden_dropout}, {"attn_pdrop", m.attention_dropout},
          {"bos_token_id", m.vocab - 1}, {"eos_token_id", m.vocab - 1}};
}

// Gemma3TextConfig's own keys, in both the 4.5x form (rope_local_base_freq, rope_scaling,
// sliding_window_pattern) and transformers 5's (layer_types, rope_parameters per layer type).
void gemma_keys(const ModelSpec& m, nlohmann::json& c) {
  const double local_theta = m.rope_local_theta > 0 ? m.rope_local_theta : m.rope_theta;
  const nlohmann::json scaling = m.rope_linear_factor != 1.0
                                     ? nlohmann::json{{"rope_type", "linear"}, {"factor", m.rope_linear_factor}}
                                     : nlohmann::json(nullptr);
  nlohmann::json full = {{"rope_type", "default"}, {"rope_theta", m.rope_theta}};
  if (m.rope_linear_factor != 1.0) full = {{"rope_type", "linear"}, {"factor", m.rope_linear_factor}, {"rope_theta", m.rope_theta}};
  c["rope_parameters"] = {{"full_attention", full},
                          {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", local_theta}}}};
  c["rope_local_base_freq"] = local_theta;
  c["rope_scaling"] = scaling;
  // transformers 5's Gemma3TextConfig types this field as int and rejects 48.0 on load.
  const double score_scalar = m.query_pre_attn_scalar > 0 ? m.query_pre_attn_scalar : static_cast<double>(m.head_dim);
  if (score_scalar == std::floor(score_scalar))
    c["query_pre_attn_scalar"] = static_cast<int64_t>(score_scalar);
  else
    c["query_pre_attn_scalar"] = score_scalar;
  c["hidden_activation"] = "gelu_pytorch_tanh";
  c["sliding_window_pattern"] = m.sliding_window_pattern;
  nlohmann::json types = nlohmann::json::array();
  for (int64_t i = 0; i < m.layers; ++i) types.push_back(m.layer_is_local(i) ? "sliding_attention" : "full_attention");
  c["layer_types"] = types;
  c["final_logit_softcapping"] = nullptr;  // Gemma 3 has none (Gemma 2 had)
  c["attn_logit_softcapping"] = nullptr;
  c["attention_bias"] = m.qkv_bias;
  c["pad_token_id"] = 0;
  c["bos_token_id"] = 2;
  c["eos_token_id"] = 1;
}

nlohmann::json decoder_config(const ModelSpec& m, const std::string& type) {
  nlohmann::json c = {{"hidden_size", m.hidden}, {"num_hidden_layers", m.layers}, {"num_attention_heads", m.heads},
                      {"num_key_value_heads", m.kv_heads}, {"head_dim", m.head_dim}, {"intermediate_size", m.ffn},
                      {"vocab_size", m.vocab}, {"max_position_embeddings", m.max_positions},
                      {"rms_norm_eps", m.norm_eps}, {"rope_theta", m.rope_theta},
                      {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", m.rope_theta}}},
                      {"hidden_act", m.mlp == MlpKind::geglu ? "gelu_pytorch_tanh" : "silu"},
                      {"attention_dropout", m.attention_dropout}, {"initializer_range", 0.02}, {"use_cache", true}};
  if (type == "llama" || type == "mistral" || type == "qwen3" || type == "qwen3_moe" || type == "mixtral") {
    c["attention_bias"] = m.qkv_bias;
    c["mlp_bias"] = false;
  }
  if (m.sliding_window > 0) {
    c["sliding_window"] = m.sliding_window;
    if (type.rfind("qwen", 0) == 0) c["use_sliding_window"] = true;
  } else if (type != "gemma3_text") {
    c["sliding_window"] = nullptr;
    if (type.rfind("qwen", 0) == 0) c["use_sliding_window"] = false;
  }
  if (type == "gemma3_text") gemma_keys(m, c);
  if (type == "qwen3_moe" || type == "qwen2_moe") {
    c["num_experts"] = m.moe.num_experts;
    c["num_experts_per_tok"] = m.moe.experts_per_token;
    c["moe_intermediate_size"] = m.moe.expert_ffn;
    c["norm_topk_prob"] = m.moe.normalize_topk;
    c["decoder_sparse_step"] = m.moe.sparse_step;
    c["mlp_only_layers"] = m.moe.dense_layers;
    c["output_router_logits"] = false;
    if (type == "qwen2_moe") c["shared_expert_intermediate_size"] = m.moe.shared_expert_ffn;
  } else if (type == "mixtral") {
    c["num_local_experts"] = m.moe.num_experts;
    c["num_experts_per_tok"] = m.moe.experts_per_token;
    c["intermediate_size"] = m.moe.expert_ffn;
    c["output_router_logits"] = false;
  }
  return c;
}

bool close(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b)); }

}  // namespace

nlohmann::json hf_config_json(const ModelSpec& m, const std::string& dtype) {
  const std::string type = hf_model_type(m);
  nlohmann::json c = type == "gpt2" ? gpt2_config(m) : decoder_config(m, type);
  c["model_type"] = type;
  c["architectures"] = {architecture(type)};
  c["tie_word_embeddings"] = m.tied_embeddings;
  c["torch_dtype"] = dtype;  // transformers 4.x
  c["dtype"] = dtype;        // transformers 5.x
  c["_name_or_path"] = m.name;
  return c;
}

void check_hf_config_matches(const ModelSpec& c, const ModelSpec& m, const std::string& path) {
  auto differ = [&](const char* field, const std::string& have, const std::string& want) {
    throw InputError(path, field, "the checkpoint's config says " + have + " but --model " + m.name + " has " + want +
                                      " (drop --model to take the model from the checkpoint)");
  };
  auto same_int = [&](const char* field, int64_t have, int64_t want) {
    if (have != want) differ(field, std::to_string(have), std::to_string(want));
  };
  auto same_bool = [&](const char* field, bool have, bool want) {
    if (have != want) differ(field, have ? "true" : "false", want ? "true" : "false");
  };
  auto same_real = [&](const char* field, double have, double want) {
    if (!close(have, want)) differ(field, nlohmann::json(have).dump(), nlohmann::json(want).dump());
  };
  if (hf_model_type(c) != hf_model_type(m)) differ("model_type", hf_model_type(c), hf_model_type(m));
  same_int("hidden", c.hidden, m.hidden);
  same_int("layers", c.layers, m.layers);
  same_int("heads", c.heads, m.heads);
  same_int("kv_heads", c.kv_heads, m.kv_heads);
  same_int("head_dim", c.head_dim, m.head_dim);
  same_int("vocab", c.vocab, m.vocab);
  same_int("ffn", c.ffn, m.ffn);
  if (c.position == PositionKind::learned) same_int("max_positions", c.max_positions, m.max_positions);
  same_bool("tie_word_embeddings", c.tied_embeddings, m.tied_embeddings);
  same_bool("qk_norm", c.qk_norm, m.qk_norm);
  same_bool("qkv_bias", c.qkv_bias, m.qkv_bias);
  same_bool("out_bias", c.out_bias, m.out_bias);
  same_real("norm_eps", c.norm_eps, m.norm_eps);
  if (c.position == PositionKind::rope) same_real("rope_theta", c.rope_theta, m.rope_theta);
  same_real("rope_local_theta", c.rope_local_theta, m.rope_local_theta);
  same_real("rope_linear_factor", c.rope_linear_factor, m.rope_linear_factor);
  same_real("query_pre_attn_scalar", c.query_pre_attn_scalar, m.query_pre_attn_scalar);
  if (hf_model_type(m) == "gemma3_text") {  // which layers slide decides Gemma's RoPE base too
    same_int("sliding_window", c.sliding_window, m.sliding_window);
    same_int("sliding_window_pattern", c.sliding_window_pattern, m.sliding_window_pattern);
  }
  same_int("moe.num_experts", c.moe.num_experts, m.moe.num_experts);
  same_int("moe.experts_per_token", c.moe.experts_per_token, m.moe.experts_per_token);
  same_int("moe.expert_ffn", c.moe.expert_ffn, m.moe.expert_ffn);
  same_bool("moe.normalize_topk", c.moe.normalize_topk, m.moe.normalize_topk);
  same_int("moe.shared_expert_ffn", c.moe.shared_expert_ffn, m.moe.shared_expert_ffn);
  for (int64_t i = 0; i < c.layers; ++i)
    if (c.layer_is_sparse(i) != m.layer_is_sparse(i))
      differ("moe (sparse layers)", "layer " + std::to_string(i) + (c.layer_is_sparse(i) ? " sparse" : " dense"),
             c.layer_is_sparse(i) ? "it dense" : "it sparse");
}

}  // namespace zplan
