// gemma_blocks.h: the pieces of transformers 5.17's Gemma 3 text model (models/gemma3) that
// differ from the Llama-shaped blocks of blocks.h, issuing the same ATen ops in the same dtypes so
// that the planner's block table (planner/memory/activations.cpp, Gemma3RMSNorm rows) predicts
// what they save. The decoder layer wires them in transformer.cpp: four norms per layer
// ("sandwich": input, post_attention, pre_feedforward, post_feedforward), q/k norms over head_dim,
// GeGLU MLP (gelu tanh), scores scaled by query_pre_attn_scalar^-0.5, RoPE base by layer type.
#pragma once

#include <cstdint>

#include "planner/config/model_spec.h"
#include "runtime/model/blocks.h"

namespace zplan::rt {

// Gemma3RMSNorm: out = x.float() * rsqrt(mean(x.float()^2) + eps), times (1 + weight.float())
// in fp32, cast back to x's dtype. Keeps the fp32 input and the fp32 normalised tensor.
at::Tensor gemma_rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

// Gemma3TextScaledWordEmbedding: embedding(ids) * embed_scale.to(weight.dtype), where embed_scale
// is the fp32 tensor sqrt(hidden). The factor is rounded to the compute dtype first (34.0 rather
// than 33.94 in bf16 for hidden 1152), as HF's cast does; a double scalar would not round it.
at::Tensor gemma_scaled_embedding(const at::Tensor& table, const at::Tensor& ids, int64_t hidden);

// The float sqrt(hidden) in `dtype` (what the embedding output is multiplied by).
at::Tensor gemma_embed_scale(int64_t hidden, at::ScalarType dtype, at::Device device);

// Attention score scale: query_pre_attn_scalar^-0.5 when the spec sets it (Gemma), else
// head_dim^-0.5 (every other family).
double attention_scale(const ModelSpec& spec);

// Gemma 3's second rotary table: sliding layers use rope_local_theta unscaled, global layers
// rope_theta with linear scaling. True when `layer` takes the local table (the spec sets a local
// base and the layer is a sliding one by type, whatever the sequence length).
bool uses_local_rope(const ModelSpec& spec, int64_t layer);
// Whether any layer of `spec` uses the local table (then the model builds it once per forward).
bool needs_local_rope(const ModelSpec& spec);

// Gemma initialises its RMSNorm weights to 0 (the norm multiplies by 1 + weight); other norms 1.
char gemma_norm_init(const ModelSpec& spec, char init);

}  // namespace zplan::rt
