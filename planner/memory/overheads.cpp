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
  } else if (c.framework == Framework::deepspeed) {
    // DeepSpeed initialises torch.distributed with NCCL and runs its collectives on one GPU too.
    // Measured on an H200 (tests/regression/measured/hf_deepspeed, DeepSpeed 0.19.8): 1326.8 MiB
    // outside the allocator for stages 0-2, against 780.8 MiB (median of 102) for the same
    // Hugging Face stack without DeepSpeed: 546 MiB of communicator.
    o.nccl_bytes = 546 * kMiB;
  }
  if (c.framework == Framework::deepspeed && c.zero_stage >= 3) {
    // ZeRO-3 adds 390 MiB more (1716.8 MiB in all three stage-3 records): its parameter
    // coordinator's all-gathers run on a stream and communicator of their own. Measured on one
    // GPU only; taken as the same on several.
    o.nccl_bytes += 390 * kMiB;
  }
  (void)cluster;
  return o;
}

}  // namespace zplan
