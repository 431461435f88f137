// --print-config: a Scenario written in the scenario-file format (see scenario_loader.h) with every
// value resolved, so that --config reads it back to the same Scenario (tests/cli: print_config_*).
#include <algorithm>
#include <sstream>

#include "planner/io/hardware_loader.h"
#include "planner/io/model_loader.h"
#include "planner/io/scenario_loader.h"

namespace zplan {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// The largest binary unit that states the size exactly (sizes in scenario files need a unit).
std::string size_text(uint64_t bytes) {
  const char* units[] = {"TiB", "GiB", "MiB", "KiB"};
  for (int i = 0; i < 4; ++i) {
    const uint64_t unit = uint64_t{1} << (10 * (4 - i));
    if (bytes >= unit && bytes % unit == 0) return std::to_string(bytes / unit) + units[i];
  }
  return std::to_string(bytes) + "B";
}

// A built-in is written by name; anything loaded from a file by its path.
std::string model_ref(const ModelSpec& m) { return contains(builtin_model_names(), m.name) || m.source.empty() ? m.name : m.source; }

void write_cluster(std::ostringstream& o, const ClusterSpec& c) {
  if (contains(builtin_cluster_names(), c.name)) {
    o << "cluster: " << c.name << "\n";
  } else if (c.source.size() > 5 && c.source.find(".yaml") != std::string::npos && c.source.rfind("--gpus", 0) != 0) {
    o << "cluster: " << c.source << "\n";
  } else {
    const std::string gpu = contains(builtin_gpu_names(), c.gpu.name) ? c.gpu.name : c.gpu.source;
    o << "gpus: " << c.gpus_per_node << "x" << gpu << "\n";
  }
  o << "nodes: " << c.nodes << "\n";
  o << "host_ram: " << size_text(c.host_ram_bytes) << "\n";
}

void write_pins(std::ostringstream& o, const StrategyPins& p) {
  std::ostringstream b;
  if (p.zero_stage) b << "  zero: " << *p.zero_stage << "\n";
  if (p.offload_optimizer) b << "  offload_optimizer: " << (*p.offload_optimizer ? "cpu" : "none") << "\n";
  if (p.offload_params) b << "  offload_params: " << (*p.offload_params ? "cpu" : "none") << "\n";
  if (p.checkpointed_layers) b << "  ckpt: " << *p.checkpointed_layers << "\n";
  if (p.cpu_checkpointing) b << "  cpu_ckpt: " << (*p.cpu_checkpointing ? "true" : "false") << "\n";
  if (p.sp_degree) b << "  sp: " << *p.sp_degree << "\n";
  if (p.micro_batch) b << "  micro_batch: " << *p.micro_batch << "\n";
  if (p.grad_accumulation) b << "  grad_accum: " << *p.grad_accumulation << "\n";
  if (p.precision) b << "  precision: " << to_string(*p.precision) << "\n";
  if (p.loss_chunks) b << "  loss_chunks: " << *p.loss_chunks << "\n";
  if (!b.str().empty()) o << "strategy:                  # pinned; the rest is searched\n" << b.str();
}

}  // namespace

std::string scenario_to_yaml(const Scenario& s) {
  const TrainingSpec& t = s.training;
  std::ostringstream o;
  o << "# zplan scenario (zplan --print-config); read it back with --config FILE\n";
  o << "model: " << model_ref(s.model) << "\n";
  write_cluster(o, s.cluster);
  o << "seq: " << t.seq_len << "\n";
  if (t.global_batch > 0) o << "global_batch: " << t.global_batch << "\n";
  o << "attention: " << to_string(t.attention) << "\n";
  o << "profile: " << to_string(t.profile) << "\n";
  o << "framework: " << to_string(t.framework) << "\n";
  o << "experts: " << to_string(t.experts) << "\n";
  o << "norm_kernel: " << to_string(t.norm) << "\n";
  o << "adamw_kernel: " << to_string(t.adamw) << "\n";
  o << "elementwise_kernel: " << to_string(t.elementwise) << "\n";
  o << "cross_entropy_kernel: " << to_string(t.cross_entropy) << "\n";
  o << "drop_logits: " << (t.hold_outputs ? "false" : "true") << "\n";
  o << "use_cache: " << (t.use_cache ? "true" : "false") << "\n";
  write_pins(o, s.pins);
  o << "deepspeed:                 # buffer sizes in elements, as DeepSpeed's zero_optimization names them\n"
    << "  reduce_bucket_size: " << t.reduce_bucket_elems << "\n"
    << "  allgather_bucket_size: " << t.allgather_bucket_elems << "\n"
    << "  stage3_prefetch_bucket_size: " << t.prefetch_bucket_elems << "\n"
    << "  stage3_param_persistence_threshold: " << t.param_persistence_threshold << "\n"
    << "  stage3_max_live_parameters: " << t.max_live_parameters << "\n"
    << "  stage3_max_reuse_distance: " << t.max_reuse_distance << "\n"
    << "  sub_group_size: " << t.sub_group_size << "\n";
  if (t.overlap_comm >= 0) o << "  overlap_comm: " << (t.overlap_comm ? "true" : "false") << "\n";
  o << "  contiguous_gradients: " << (t.contiguous_gradients ? "true" : "false") << "\n";
  return o.str();
}

}  // namespace zplan
