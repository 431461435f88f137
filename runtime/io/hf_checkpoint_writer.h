// hf_checkpoint_writer.h: write zplan's runtime model as a Hugging Face checkpoint directory
// (--save-hf DIR) that transformers' AutoModelForCausalLM.from_pretrained(DIR) loads:
//   config.json        planner/io/hf_config_writer.h (model_type, architectures, sizes, dtype)
//   model.safetensors  every parameter under its HF name in the training dtype; routed experts
//                      in the per-expert layout transformers 5 itself saves by default
//                      (mlp.experts.N.gate_proj/up_proj/down_proj.weight; Mixtral's
//                      block_sparse_moe names: runtime/io/hf_disk_names.h), which transformers 4
//                      and 5 both load; tied embeddings store only the embedding.
// The directory is written as a hidden sibling (.DIR.tmp-PID), flushed, and renamed to DIR (an
// existing DIR is moved aside first and removed after), so DIR is never half written.
// The parameters must be whole on this process (one rank; the trainer refuses --save-hf on more).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "planner/config/model_spec.h"
#include "runtime/model/transformer.h"

namespace zplan::rt {

// The (name, tensor) list written to model.safetensors (expert tensors split per expert, names on
// disk as transformers saves `spec`'s model type).
std::vector<std::pair<std::string, at::Tensor>> hf_state_dict(const std::vector<NamedParam>& params,
                                                              const ModelSpec& spec);

// InputError(dir) when it cannot be written.
void save_hf_checkpoint(const std::string& dir, const ModelSpec& spec, const std::vector<NamedParam>& params);

}  // namespace zplan::rt
