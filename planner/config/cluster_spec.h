// ClusterSpec: what the machine is. GPU profiles come from hardware/gpus/*.yaml, clusters from
// hardware/clusters/*.yaml or are built on the fly from "--gpus NxNAME" (planner/io/).
#pragma once
#include <cstdint>
#include <string>

namespace zplan {

struct GpuSpec {
  // ---- identity ----
  std::string name;                  // profile name, e.g. "h100-80gb"
  std::string display_name;          // e.g. "NVIDIA H100 80GB HBM3"
  std::string source;                // file it was loaded from
  // ---- memory ----
  uint64_t memory_bytes = 0;         // total device memory as reported by the driver
  double memory_bw_gb_per_s = 0;     // HBM/GDDR bandwidth, GB/s (1e9)
  // ---- compute (dense peak, no sparsity) ----
  double bf16_tflops = 0;            // 0 when bf16 is not supported
  double fp16_tflops = 0;
  double fp32_tflops = 0;            // plain fp32 (non-tensor-core) rate
  // Measured, not datasheet: the fastest 16-bit attention kernel (SDPA forward + backward, causal,
  // head dim 128, 32K tokens: tools/gpu/measure_rates.py). The calibration keeps the attention
  // term at or below this rate; 0 = not measured (bounded by the peak only).
  double attention_kernel_tflops = 0;
  // Measured, not datasheet: the fastest 16-bit GEMM (tools/gpu/measure_rates.py, its shape classes
  // up to 32K rows). The calibration keeps the matmul term at or below it; 0 = not measured.
  double matmul_kernel_tflops = 0;
  bool supports_bf16 = false;
  double compute_capability = 0;     // CUDA compute capability (7.0 Volta, 8.0 Ampere, 9.0 Hopper); 0 = unknown
  // ---- links ----
  std::string intra_node_link;       // "nvlink4", "nvlink2", "pcie4", ...
  double intra_node_bw_gb_per_s = 0; // per-GPU unidirectional bandwidth to peers, GB/s
  double pcie_bw_gb_per_s = 0;       // host <-> device, unidirectional, GB/s
  // ---- price ----
  double price_per_gpu_hour = 0;     // US dollars per GPU-hour on demand (an assumption; 0 = unknown)
};

// Host memory bandwidth per GPU when a cluster profile gives none: the share of one GPU in an
// NVIDIA DGX H100/H200 host, 2 x Xeon Platinum 8480C with 8 DDR5-4800 channels each (Intel ark:
// 307.2 GB/s per socket) = 614.4 GB/s for 8 GPUs.
constexpr double kAssumedHostMemoryBwPerGpuGbPerS = 76.8;

struct ClusterSpec {
  std::string name;                  // e.g. "8xh100" or a hardware/clusters file name
  std::string source;
  GpuSpec gpu;
  int gpus_per_node = 1;
  int nodes = 1;
  uint64_t host_ram_bytes = 0;       // per node
  std::string host_ram_origin;       // where host_ram_bytes came from, printed with the plan
  int cpu_cores = 0;                 // per node
  double host_memory_bw_gb_per_s = 0; // per node, GB/s (1e9): what the CPU optimizer streams through;
                                      // 0 = unknown, kAssumedHostMemoryBwPerGpuGbPerS per GPU
  double inter_node_bw_gb_per_s = 25; // per node, GB/s (200 Gb/s IB), used when nodes > 1

  int world_size() const { return gpus_per_node * nodes; }
};

}  // namespace zplan
