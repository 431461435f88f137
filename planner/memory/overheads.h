// Device memory outside PyTorch's caching allocator: the CUDA context (driver state, loaded kernel
// modules) and NCCL's communicator buffers. nvidia-smi shows reserved + these; they must fit too.
#pragma once
#include <cstdint>

#include "planner/config/cluster_spec.h"
#include "planner/memory/exec_context.h"

namespace zplan {

struct OutsideAllocator {
  uint64_t cuda_context_bytes = 0;  // context + lazily loaded modules (cuBLAS, flash kernels)
  uint64_t nccl_bytes = 0;          // communicator buffers when world > 1
  uint64_t total() const { return cuda_context_bytes + nccl_bytes; }
};

OutsideAllocator outside_allocator_bytes(const ClusterSpec& cluster, const ExecContext& c);

}  // namespace zplan
