// Hugging Face names of the parameter table's rows: the state_dict keys of transformers'
// ...ForCausalLM model, so that zplan's runtime names its parameters as a checkpoint does.
// Two module trees: GPT-2's (transformer.h.N.attn.c_attn, qkv_projection c_attn) and the Llama
// tree that Qwen, Mistral, Gemma and Phi-3 share (model.layers.N.self_attn.q_proj).
#pragma once
#include <cstdint>
#include <string>

#include "planner/memory/params.h"  // TensorRole, ModelSpec

namespace zplan {

// The state_dict key of a row: e.g. "model.layers.3.self_attn.q_proj.weight" (layer -1 for
// embeddings, final norm and head). `bias`: the module's bias rather than its weight.
std::string hf_parameter_name(const ModelSpec& m, TensorRole role, int64_t layer, bool bias);

// The dimension along which a row is concatenated with its neighbours into one fused tensor
// (GPT-2 c_attn, Phi-3 qkv_proj and gate_up_proj, routed experts' gate_up_proj), -1 when whole.
int hf_fused_dim(const ModelSpec& m, TensorRole role, bool bias);

}  // namespace zplan
