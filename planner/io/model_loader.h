// Loading a ModelSpec: a built-in name or alias (models/*.yaml, compiled in), a path to a model
// YAML file, or a path to a Hugging Face config.json (or a directory holding one).
//
// Model YAML keys are ModelSpec fields (planner/config/model_spec.h):
//   name, family, published_parameters, layers, hidden, heads, kv_heads (default heads),
//   head_dim (default hidden/heads), ffn, vocab, max_positions (required for learned positions),
//   norm (rms_norm|layer_norm|gemma_rms_norm), norm_eps (default 1e-5 for layer_norm, else 1e-6),
//   mlp (swiglu|gelu_mlp|geglu), position (rope|learned), rope_theta (default 10000),
//   rope_local_theta (sliding layers' base, default 0 = rope_theta), rope_linear_factor (default 1),
//   query_pre_attn_scalar (attention scale^-2, default 0 = head_dim),
//   qkv_projection (separate|fused|c_attn, default separate), tied_embeddings, qk_norm, qkv_bias,
//   out_bias, sandwich_norm, scaled_embeddings, fused_gate_up_proj, composite_gelu (booleans,
//   default false), attention_softmax_fp32 (default true), sliding_window,
//   sliding_window_pattern, hidden_dropout, attention_dropout (probabilities, default 0),
//   aliases: [other names], and for MoE models a nested map
//   moe: {num_experts, experts_per_token, expert_ffn, normalize_topk, shared_experts,
//         shared_expert_ffn, shared_expert_gate (Qwen2-MoE's sigmoid gate), first_dense_layers,
//         sparse_step, dense_layers: [i, ...]}.
// Unknown keys are rejected (a typo would otherwise silently keep a default).
#pragma once
#include <string>
#include <vector>

#include "planner/config/model_spec.h"

namespace zplan {

// Built-in name or alias (case-insensitive), then a path ending in .yaml/.yml/.json, or a
// directory holding config.json. Unknown names: InputError that names the 3 closest built-ins.
// The result has passed validate_model().
ModelSpec load_model(const std::string& name_or_path);
// The same, naming `where`/`field` in the unknown-name error (a scenario file and "model").
ModelSpec load_model(const std::string& name_or_path, const std::string& where, const std::string& field);

// Canonical built-in names, sorted.
std::vector<std::string> builtin_model_names();
// Aliases of a built-in model (empty for an unknown name).
std::vector<std::string> builtin_model_aliases(const std::string& name);

// Parses model YAML text; `source` names it in errors and becomes ModelSpec::source. When the
// text has no `name:`, the file stem of `source` is used. Also validates.
ModelSpec parse_model_yaml(const std::string& text, const std::string& source);

// Throws InputError(model.source, field, ...) for impossible or absurd shapes: non-positive sizes,
// heads % kv_heads != 0, layers > 10000, hidden > 1e6, vocab > 1e8, inconsistent MoE fields.
void validate_model(const ModelSpec& model);

const char* to_string(NormKind k);
const char* to_string(MlpKind k);
const char* to_string(PositionKind k);
const char* to_string(QkvProjection k);

}  // namespace zplan
