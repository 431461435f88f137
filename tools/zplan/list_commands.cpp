// `zplan models` and `zplan hardware`: the built-in profiles.
#include <cstdio>

#include "commands.h"
#include "planner/estimate.h"
#include "planner/format.h"
#include "planner/io/hardware_loader.h"
#include "planner/io/model_loader.h"
#include "planner/memory/params.h"

namespace zplan {

int run_models() {
  std::printf("%-16s %-10s %14s %6s %6s %5s %4s  %s\n", "name", "family", "parameters", "layers", "hidden", "heads", "kv",
              "aliases");
  for (const std::string& name : builtin_model_names()) {
    const ModelSpec m = load_model(name);
    std::string aliases;
    for (const std::string& a : builtin_model_aliases(name)) aliases += (aliases.empty() ? "" : ", ") + a;
    std::printf("%-16s %-10s %14lld %6lld %6lld %5lld %4lld  %s\n", m.name.c_str(), m.family.c_str(),
                static_cast<long long>(count_parameters(m).total), static_cast<long long>(m.layers),
                static_cast<long long>(m.hidden), static_cast<long long>(m.heads), static_cast<long long>(m.kv_heads),
                aliases.c_str());
  }
  return 0;
}

int run_hardware() {
  std::printf("GPUs (use --gpus NxNAME):\n  %-16s %12s %8s %8s  %s\n", "name", "memory", "bf16 TF", "fp16 TF", "link");
  for (const std::string& name : builtin_gpu_names()) {
    const GpuSpec g = load_gpu(name);
    std::printf("  %-16s %12s %8.0f %8.0f  %s %.0f GB/s\n", g.name.c_str(), format_bytes(g.memory_bytes).c_str(),
                g.bf16_tflops, g.fp16_tflops, g.intra_node_link.c_str(), g.intra_node_bw_gb_per_s);
  }
  std::printf("Clusters (use --cluster NAME or --gpus NAME):\n");
  for (const std::string& name : builtin_cluster_names()) {
    const ClusterSpec c = load_cluster(name);
    std::printf("  %-16s %d x %d x %s, host RAM %s per node\n", c.name.c_str(), c.nodes, c.gpus_per_node,
                c.gpu.name.c_str(), format_bytes(c.host_ram_bytes).c_str());
  }
  return 0;
}

}  // namespace zplan
