// weight_slots.h: where each tensor of the planner's parameter table (planner/memory/params.h)
// goes in zplan's runtime model, and how it starts (HF's init: normal(0, 0.02), norms 1, biases 0).
#pragma once

#include "planner/memory/params.h"
#include "runtime/model/transformer.h"

namespace zplan::rt {

// 'n' normal(0, init_std), '1' ones (norm weights), '0' zeros (biases): TransformerModel::add_param.
char init_kind(const ParamTensor& row);

// The LayerWeights member that holds HF tensor `t` of a block, whose first table row is `row` (a
// fused q|k|v is GPT-2's c_attn or Phi-3's qkv_proj, a fused gate|up Phi-3's gate_up_proj or the
// experts' gate_up_proj). Throws
// std::logic_error for a tensor the runtime has no module for (check_runtime_supports refuses
// such specs first).
at::Tensor& layer_slot(LayerWeights& w, const ParamTensor& row, const HfTensor& t);

}  // namespace zplan::rt
