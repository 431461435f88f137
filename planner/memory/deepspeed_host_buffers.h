// The host buffers DeepSpeed's ZeRO-Offload allocates in each process (DeepSpeed 0.19,
// runtime/zero/stage_1_and_2.py and stage3.py), each marked pinned or pageable, so host RAM is a
// sum over named allocations rather than bytes per parameter. Measured against
// tests/regression/measured/hf_deepspeed*/ (docs/memory-model.md, "Host RAM of ZeRO-Offload").
#pragma once
#include <cstdint>
#include <vector>

#include "planner/config/training_spec.h"
#include "planner/memory/params.h"

namespace zplan {

enum class HostBufferKind { optimizer, params, staging };

struct HostBuffer {
  const char* what;     // DeepSpeed's name for it
  HostBufferKind kind;  // which HostMemory term it counts in
  uint64_t bytes;       // requested
  bool pinned;          // page-locked through PyTorch's caching host allocator
};

struct OffloadShape {
  int zero_stage = 0;
  bool offload_optimizer = false;
  bool offload_params = false;
  int64_t data_parallel = 1;            // ranks the model states are partitioned over
  uint64_t param_bytes = 2;             // 16-bit model dtype (also DeepSpeed's default gradient
                                        // accumulation dtype: grad_accum_dtype unset = model dtype)
  int64_t sub_group_size = 1'000'000'000;
  int64_t param_persistence_threshold = 100'000;
};

// One process's buffers (empty without offload), from the model's parameter tables.
std::vector<HostBuffer> deepspeed_offload_host_buffers(const ModelTables& tables,
                                                       const OffloadShape& shape);

// Resident bytes of one buffer: pinned requests rounded as planner/memory/pinned_host.h says.
uint64_t resident_bytes(const HostBuffer& b);

}  // namespace zplan
