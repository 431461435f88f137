// Hugging Face parameter names (see hf_names.h). Module names follow transformers 5.17's
// modelling files: gpt2 (GPT2Attention.c_attn/c_proj, GPT2MLP.c_fc/c_proj), llama, qwen3,
// qwen3_moe (experts hold gate_up_proj [E, 2*FE, C] and down_proj as bare parameters),
// qwen2_moe (shared_expert), gemma3 (four norms per block) and phi3 (qkv_proj, gate_up_proj).
#include "planner/memory/hf_names.h"


namespace zplan {

namespace {

bool gpt2_tree(const ModelSpec& m) { return m.qkv_projection == QkvProjection::c_attn; }

// The module path of a role inside one block, without the ".weight"/".bias" leaf.
std::string block_module(const ModelSpec& m, TensorRole role) {
  const bool gpt2 = gpt2_tree(m);
  const std::string attn = gpt2 ? "attn." : "self_attn.";
  const bool fused_qkv = m.qkv_projection != QkvProjection::separate;
  switch (role) {
    case TensorRole::attn_norm: return gpt2 ? "ln_1" : "input_layernorm";
    case TensorRole::attn_post_norm: return "post_attention_layernorm";
    case TensorRole::mlp_norm:
      return gpt2 ? "ln_2" : m.sandwich_norm ? "pre_feedforward_layernorm" : "post_attention_layernorm";
    case TensorRole::mlp_post_norm: return "post_feedforward_layernorm";
    case TensorRole::q: return attn + (gpt2 ? "c_attn" : fused_qkv ? "qkv_proj" : "q_proj");
    case TensorRole::k: return attn + (gpt2 ? "c_attn" : fused_qkv ? "qkv_proj" : "k_proj");
    case TensorRole::v: return attn + (gpt2 ? "c_attn" : fused_qkv ? "qkv_proj" : "v_proj");
    case TensorRole::o: return attn + (gpt2 ? "c_proj" : "o_proj");
    case TensorRole::q_norm: return attn + "q_norm";
    case TensorRole::k_norm: return attn + "k_norm";
    case TensorRole::mlp_fc: return gpt2 ? "mlp.c_fc" : "mlp.fc1";
    case TensorRole::mlp_proj: return gpt2 ? "mlp.c_proj" : "mlp.fc2";
    case TensorRole::mlp_gate: return m.fused_gate_up_proj ? "mlp.gate_up_proj" : "mlp.gate_proj";
    case TensorRole::mlp_up: return m.fused_gate_up_proj ? "mlp.gate_up_proj" : "mlp.up_proj";
    case TensorRole::mlp_down: return "mlp.down_proj";
    case TensorRole::router: return "mlp.gate";
    case TensorRole::expert_gate: return "mlp.experts.gate_up_proj";
    case TensorRole::expert_up:
      return m.mlp == MlpKind::gelu_mlp ? "mlp.experts.up_proj" : "mlp.experts.gate_up_proj";
    case TensorRole::expert_down: return "mlp.experts.down_proj";
    case TensorRole::shared_fc: return "mlp.shared_expert.fc1";
    case TensorRole::shared_proj: return "mlp.shared_expert.fc2";
    case TensorRole::shared_gate: return "mlp.shared_expert.gate_proj";
    case TensorRole::shared_up: return "mlp.shared_expert.up_proj";
    case TensorRole::shared_down: return "mlp.shared_expert.down_proj";
    case TensorRole::shared_expert_gate: return "mlp.shared_expert_gate";
    default: return "";  // not a block tensor
  }
}

// Model-level tensors (outside the blocks), without the leaf.
std::string model_module(const ModelSpec& m, TensorRole role) {
  const bool gpt2 = gpt2_tree(m);
  switch (role) {
    case TensorRole::token_embedding: return gpt2 ? "transformer.wte" : "model.embed_tokens";
    case TensorRole::position_embedding: return gpt2 ? "transformer.wpe" : "model.embed_positions";
    case TensorRole::final_norm: return gpt2 ? "transformer.ln_f" : "model.norm";
    case TensorRole::lm_head: return "lm_head";
    default: return "";
  }
}

bool bare_parameter(TensorRole role) {  // nn.Parameter on the module itself: no ".weight" leaf
  return role == TensorRole::expert_gate || role == TensorRole::expert_up || role == TensorRole::expert_down;
}

}  // namespace

std::string hf_parameter_name(const ModelSpec& m, TensorRole role, int64_t layer, bool bias) {
  std::string module;
  if (layer < 0) {
    module = model_module(m, role);
  } else {
    const std::string block = (gpt2_tree(m) ? "transformer.h." : "model.layers.") + std::to_string(layer) + ".";
    module = block + block_module(m, role);
  }
  if (bare_parameter(role)) return module;
  return module + (bias ? ".bias" : ".weight");
}

int hf_fused_dim(const ModelSpec& m, TensorRole role, bool bias) {
  const bool qkv = role == TensorRole::q || role == TensorRole::k || role == TensorRole::v;
  if (qkv && m.qkv_projection != QkvProjection::separate) {
    if (bias) return 0;                                        // [q | k | v]
    return m.qkv_projection == QkvProjection::c_attn ? 1 : 0;  // Conv1D [C, 3C], Linear [3C, C]
  }
  if ((role == TensorRole::mlp_gate || role == TensorRole::mlp_up) && m.fused_gate_up_proj) return 0;
  if (role == TensorRole::expert_gate || (role == TensorRole::expert_up && m.mlp != MlpKind::gelu_mlp))
    return 1;                                                  // [E, 2*FE, C]: gate then up
  return -1;
}

}  // namespace zplan
