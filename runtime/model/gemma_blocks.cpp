// gemma_blocks.cpp: Gemma 3's norm, embedding scale, attention scale and RoPE choice (see
// gemma_blocks.h). Comments quote the transformers line each statement mirrors where the op order
// decides what autograd saves.
#include "runtime/model/gemma_blocks.h"

#include <cmath>

namespace zplan::rt {

at::Tensor gemma_rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::Tensor h = x.to(at::kFloat);                                  // self._norm(x.float())
  at::Tensor out = h * at::rsqrt(h.pow(2).mean(-1, true) + eps);          // x * rsqrt(x.pow(2).mean(-1) + eps)
  out = out * (1.0 + weight.to(at::kFloat));                              // output * (1.0 + self.weight.float())
  return out.to(x.scalar_type());                                         // output.type_as(x)
}

at::Tensor gemma_embed_scale(int64_t hidden, at::ScalarType dtype, at::Device device) {
  // torch.tensor(hidden_size**0.5): a Python float stored as fp32, then .to(weight.dtype).
  const float scale = static_cast<float>(std::sqrt(static_cast<double>(hidden)));
  return at::scalar_tensor(scale, at::TensorOptions().dtype(at::kFloat).device(device)).to(dtype);
}

at::Tensor gemma_scaled_embedding(const at::Tensor& table, const at::Tensor& ids, int64_t hidden) {
  // super().forward(input_ids) * self.embed_scale.to(self.weight.dtype): the multiply keeps only
  // the 0-dim factor (the buffer needs no gradient), not the [B, T, C] lookup.
  return at::embedding(table, ids) * gemma_embed_scale(hidden, table.scalar_type(), table.device());
}

double attention_scale(const ModelSpec& spec) {
  // self.scaling = config.query_pre_attn_scalar**-0.5 (Gemma); head_dim**-0.5 elsewhere.
  const double d = spec.query_pre_attn_scalar > 0 ? spec.query_pre_attn_scalar : static_cast<double>(spec.head_dim);
  return 1.0 / std::sqrt(d);
}

bool uses_local_rope(const ModelSpec& spec, int64_t layer) {
  return spec.rope_local_theta > 0 && spec.layer_is_local(layer);
}

bool needs_local_rope(const ModelSpec& spec) {
  for (int64_t i = 0; i < spec.layers; ++i)
    if (uses_local_rope(spec, i)) return true;
  return false;
}

char gemma_norm_init(const ModelSpec& spec, char init) {
  // _init_weights: "RMSNorm" in the class name -> zeros_ (Gemma3RMSNorm scales by 1 + weight).
  return spec.norm == NormKind::gemma_rms_norm && init == '1' ? '0' : init;
}

}  // namespace zplan::rt
