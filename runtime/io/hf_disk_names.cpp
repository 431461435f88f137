// hf_disk_names.cpp: table name -> checkpoint name on disk (see hf_disk_names.h).
#include "runtime/io/hf_disk_names.h"

#include "planner/io/hf_config_writer.h"  // hf_model_type

namespace zplan::rt {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool mixtral(const ModelSpec& spec) { return hf_model_type(spec) == "mixtral"; }

// Mixtral's decoder layer names its MoE block block_sparse_moe on disk (transformers 4's module
// name, which the published checkpoints keep): ".mlp." -> ".block_sparse_moe.".
std::string mixtral_block(const std::string& name) {
  const std::string from = ".mlp.", to = ".block_sparse_moe.";
  const size_t at = name.find(from);
  if (at == std::string::npos) return name;
  return name.substr(0, at) + to + name.substr(at + from.size());
}

}  // namespace

bool is_stacked_experts(const std::string& table_name) {
  return ends_with(table_name, ".experts.gate_up_proj") || ends_with(table_name, ".experts.down_proj");
}

std::string disk_name(const ModelSpec& spec, const std::string& table_name) {
  return mixtral(spec) ? mixtral_block(table_name) : table_name;
}

std::vector<std::string> per_expert_disk_names(const ModelSpec& spec, const std::string& table_name, int64_t expert) {
  const bool gate_up = ends_with(table_name, "gate_up_proj");
  const std::string stem = disk_name(spec, table_name.substr(0, table_name.rfind('.') + 1)) +  // "...experts."
                           std::to_string(expert) + ".";
  // Mixtral's MixtralBlockSparseTop2MLP: w2(act(w1(x)) * w3(x)), so w1 is the gate, w3 the up.
  if (mixtral(spec)) {
    if (gate_up) return {stem + "w1.weight", stem + "w3.weight"};
    return {stem + "w2.weight"};
  }
  if (gate_up) return {stem + "gate_proj.weight", stem + "up_proj.weight"};
  return {stem + "down_proj.weight"};
}

}  // namespace zplan::rt
