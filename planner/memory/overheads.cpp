// Memory outside the caching allocator (see overheads.h). The constants are measured, not fitted:
// tools/hf_reference/measure_hf.py records (total - free) - reserved after the first step on the
// GPU machine (docs/measurements/), and docs/memory-model.md lists the figures.
#include "planner/memory/overheads.h"

namespace zplan {
namespace {
constexpr uint64_t kMiB = 1024ull * 1024ull;
}  // namespace

OutsideAllocator outside_allocator_bytes(const ClusterSpec& cluster, const ExecContext& c) {
  OutsideAllocator o;
  // CUDA 12/13 context with lazy module loading, cuBLAS/cuBLASLt handles and the attention and
  // optimizer kernels a training step loads. Older GPUs load fewer sm-specific kernels but the
  // same order of magnitude.
  o.cuda_context_bytes = 520 * kMiB;
  if (c.world_size > 1) {
    // NCCL: communicator buffers (NCCL_BUFFSIZE 4 MiB per channel and peer) and proxy state.
    // Measured 1.0-1.07 GiB per rank on NVLink-connected H100s, the same with 2 and with 4 ranks
    // (docs/measurements/hf_dist_raw{,/holdout}: outside-allocator bytes minus the context).
    // More than 4 ranks and several nodes are not measured: taken as the same.
    o.nccl_bytes = 1060 * kMiB;
  }
  (void)cluster;
  return o;
}

}  // namespace zplan
