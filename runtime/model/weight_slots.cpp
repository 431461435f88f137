// weight_slots.cpp: the table-row-to-module mapping of zplan's runtime model (see weight_slots.h).
#include "runtime/model/weight_slots.h"

#include <stdexcept>
#include <string>

namespace zplan::rt {

char init_kind(const ParamTensor& row) {
  if (row.bias) return '0';
  return is_norm(row.role) ? '1' : 'n';
}

at::Tensor& layer_slot(LayerWeights& w, const ParamTensor& row, const HfTensor& t) {
  const bool b = row.bias;
  switch (row.role) {
    case TensorRole::attn_norm: return b ? w.ln1_b : w.ln1_w;
    case TensorRole::mlp_norm: return b ? w.ln2_b : w.ln2_w;
    case TensorRole::attn_post_norm: return w.post_attn_norm_w;  // Gemma post_attention_layernorm
    case TensorRole::mlp_post_norm: return w.post_mlp_norm_w;    // Gemma post_feedforward_layernorm
    case TensorRole::q:
      if (t.rows.size() > 1 && t.name.find("c_attn") != std::string::npos) return b ? w.c_attn_b : w.c_attn_w;
      if (t.rows.size() > 1) return b ? w.qkv_b : w.qkv_w;  // Phi-3 qkv_proj
      return b ? w.q_b : w.q_w;
    case TensorRole::k: return b ? w.k_b : w.k_w;
    case TensorRole::v: return b ? w.v_b : w.v_w;
    case TensorRole::o: return b ? w.o_b : w.o_w;
    case TensorRole::q_norm: return w.q_norm_w;
    case TensorRole::k_norm: return w.k_norm_w;
    case TensorRole::mlp_fc: return b ? w.fc_b : w.fc_w;
    case TensorRole::mlp_proj: return b ? w.proj_b : w.proj_w;
    case TensorRole::mlp_gate: return t.rows.size() > 1 ? w.gate_up_w : w.gate_w;  // Phi-3 gate_up_proj
    case TensorRole::mlp_up: return w.up_w;
    case TensorRole::mlp_down: return w.down_w;
    case TensorRole::router: return w.router_w;
    case TensorRole::expert_gate: return w.experts_gate_up;
    case TensorRole::expert_down: return w.experts_down;
    case TensorRole::shared_gate: return w.shared_gate_w;
    case TensorRole::shared_up: return w.shared_up_w;
    case TensorRole::shared_down: return w.shared_down_w;
    case TensorRole::shared_expert_gate: return w.shared_expert_gate_w;
    default: throw std::logic_error("runtime: no module for parameter " + t.name);
  }
}

}  // namespace zplan::rt
