// model_checks.cpp: what zplan's runtime model can build (declared in transformer.h), so that a
// spec it does not implement is refused with the field to blame rather than run wrongly.
#include <string>

#include "planner/input_error.h"
#include "runtime/model/transformer.h"

namespace zplan::rt {
namespace {

std::string where_of(const ModelSpec& spec) { return spec.source.empty() ? "model " + spec.name : spec.source; }

}  // namespace

void check_runtime_supports(const ModelSpec& spec) {
  const std::string where = where_of(spec);
  auto positive = [&](int64_t v, const char* field) {
    if (v <= 0) throw InputError(where, field, "must be > 0 for the runtime");
  };
  positive(spec.layers, "layers");
  positive(spec.hidden, "hidden");
  positive(spec.heads, "heads");
  positive(spec.kv_heads, "kv_heads");
  positive(spec.head_dim, "head_dim");
  positive(spec.vocab, "vocab");
  const bool gpt2_layout = spec.qkv_projection == QkvProjection::c_attn;
  if (spec.heads % spec.kv_heads != 0)
    throw InputError(where, "kv_heads", "must divide heads (" + std::to_string(spec.heads) + ")");
  // Sandwich norms have no bias slot (Gemma's RMSNorm, or Llama's); GPT-2's LayerNorm would.
  if (spec.sandwich_norm && spec.norm == NormKind::layer_norm)
    throw InputError(where, "sandwich_norm", "needs an RMSNorm (norm rms_norm or gemma_rms_norm)");
  if (spec.rope_linear_factor != 1.0 && spec.position != PositionKind::rope)
    throw InputError(where, "rope_linear_factor", "needs position rope");
  if (spec.fused_gate_up_proj && spec.mlp == MlpKind::gelu_mlp)
    throw InputError(where, "fused_gate_up_proj", "needs a gated MLP (swiglu or geglu)");
  if (spec.mlp == MlpKind::gelu_mlp && !gpt2_layout)
    throw InputError(where, "mlp", "the runtime's GELU MLP is GPT-2's Conv1D one (qkv_projection c_attn)");
  if (spec.is_moe() && spec.mlp != MlpKind::swiglu)
    throw InputError(where, "mlp", "the runtime's experts (and shared experts) are SwiGLU MLPs");
  if (spec.is_moe() && (spec.moe.experts_per_token <= 0 || spec.moe.expert_ffn <= 0))
    throw InputError(where, "moe", "experts_per_token and expert_ffn must be > 0");
  if (spec.is_moe() && spec.moe.shared_experts > 0 && spec.moe.shared_expert_ffn <= 0)
    throw InputError(where, "moe.shared_expert_ffn", "must be > 0 with shared experts");
  if (gpt2_layout && spec.heads * spec.head_dim != spec.hidden)
    throw InputError(where, "head_dim", "GPT-2 layout needs heads * head_dim == hidden");
  if (spec.position == PositionKind::learned && spec.max_positions <= 0)
    throw InputError(where, "max_positions", "learned positions need max_positions > 0");
  if (spec.position == PositionKind::rope && spec.head_dim % 2 != 0)
    throw InputError(where, "head_dim", "RoPE needs an even head_dim");
  for (int64_t i = 0; i < spec.layers; ++i)
    if (!spec.layer_is_sparse(i) && spec.ffn <= 0)
      throw InputError(where, "ffn", "dense layers need ffn > 0");
}

}  // namespace zplan::rt
