// hf_disk_names.h: the names a parameter of the planner's table (planner/memory/hf_names.h, the
// module tree transformers 5 builds) takes in a safetensors checkpoint on disk, where they differ.
// transformers 5 converts them on load and back on save (its conversion_mapping.py):
//   routed experts   one [E, 2F, C] gate_up_proj / [E, C, F] down_proj in memory; on disk one
//                    tensor per expert: experts.N.gate_proj/up_proj/down_proj.weight (Qwen MoE),
//                    block_sparse_moe.experts.N.w1 (gate) / w3 (up) / w2 (down).weight (Mixtral)
//   Mixtral router   mlp.gate.weight in memory, block_sparse_moe.gate.weight on disk
// Plain C++ (no torch): the reader (--init-from) and the writer (--save-hf) share it.
#pragma once

#include <string>
#include <vector>

#include "planner/config/model_spec.h"

namespace zplan::rt {

// true for a table name holding every routed expert (…experts.gate_up_proj, …experts.down_proj).
bool is_stacked_experts(const std::string& table_name);

// The on-disk name of a table tensor that is not a stacked expert (the name itself but for
// Mixtral's block_sparse_moe module).
std::string disk_name(const ModelSpec& spec, const std::string& table_name);

// The per-expert on-disk names of expert `expert` of a stacked expert tensor: {gate, up} for
// gate_up_proj (rows [0, F) then [F, 2F)), {down} for down_proj.
std::vector<std::string> per_expert_disk_names(const ModelSpec& spec, const std::string& table_name, int64_t expert);

}  // namespace zplan::rt
