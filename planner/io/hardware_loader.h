// Loading GpuSpec and ClusterSpec: built-in profiles (hardware/gpus/*.yaml, hardware/clusters/*.yaml,
// compiled in), profile files given by path, and clusters built from "--gpus NxGPU". Also the
// byte-size parser used for --host-ram and scenario files.
//
// GPU YAML keys: name, display_name, aliases, memory_bytes, memory_bw_gb_per_s, bf16_tflops,
// fp16_tflops, fp32_tflops, supports_bf16, compute_capability (optional), intra_node_link, intra_node_bw_gb_per_s, pcie_bw_gb_per_s,
// price_per_gpu_hour_usd (optional, > 0: on-demand US dollars per GPU-hour, an assumption).
// Cluster YAML keys: name, gpu (a GPU name, alias or .yaml path), gpus_per_node, nodes (default 1),
// host_ram_bytes (per node; an integer or a size such as 512GiB), cpu_cores (per node),
// inter_node_bw_gb_per_s (optional), host_memory_bw_gb_per_s (optional, per node: the CPU
// optimizer's bandwidth; absent: kAssumedHostMemoryBwPerGpuGbPerS per GPU). Unknown keys are rejected.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "planner/config/cluster_spec.h"

namespace zplan {

// A built-in GPU name or alias ("H100", "h100-80gb", "V100", "3080-20g"; case-insensitive) or a
// path to a GPU .yaml file. Unknown names: InputError naming the 3 closest built-ins.
GpuSpec load_gpu(const std::string& name);
GpuSpec load_gpu(const std::string& name, const std::string& where, const std::string& field);

// A built-in cluster name ("8xh100"), a path to a cluster .yaml file, or an "NxGPU" string
// (delegated to cluster_from_gpus_flag).
ClusterSpec load_cluster(const std::string& name_or_path);
ClusterSpec load_cluster(const std::string& name_or_path, const std::string& where, const std::string& field);

// "8xH100", "4xV100", "3x3080-20g", "1xh100-80gb" (case-insensitive, 'x' or '*'): N GPUs in one node.
// When a built-in cluster has that name, or the same GPU profile and count, its host RAM, cores
// and name are used. Otherwise host RAM = 2 x the node's total GPU memory (enough to stage a
// checkpoint and the fp32 optimizer states of a model that fills the GPUs; typical of cloud GPU
// nodes) and 8 CPU cores per GPU (the usual cloud vCPU-per-GPU ratio); override with --host-ram.
ClusterSpec cluster_from_gpus_flag(const std::string& flag);

std::vector<std::string> builtin_gpu_names();      // sorted canonical names
std::vector<std::string> builtin_cluster_names();  // sorted

GpuSpec parse_gpu_yaml(const std::string& text, const std::string& source);
ClusterSpec parse_cluster_yaml(const std::string& text, const std::string& source);

// "12GiB", "512MiB", "1.5TiB", "12g"/"12G" (single letters K/M/G/T are binary), "12GB" (decimal,
// 12e9), "4096B", plain integers (bytes). Case-insensitive, spaces allowed before the unit; a
// fraction with a unit is rounded to the nearest byte. Negative, zero, a fraction without a unit,
// more than 2^63 bytes and junk -> InputError(where, field, ...).
uint64_t parse_bytes(const std::string& text, const std::string& where, const std::string& field = "");
// The same, for sizes a person types (--host-ram, a scenario's host_ram): the unit is required,
// since "12" there means 12 GB far more often than 12 bytes.
uint64_t parse_size_with_unit(const std::string& text, const std::string& where, const std::string& field = "");

}  // namespace zplan
