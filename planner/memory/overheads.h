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

// The measured constants behind outside_allocator_bytes(), each the largest value the records in
// tests/regression/measured show for its stack (tests/planner/measured_constants_test.cpp derives
// them from the records again and fails when they differ):
// - Hugging Face transformers (Python process, torch 2.11, CUDA 13): the largest
//   measurement.memory.gpu.outside_allocator_bytes of the 138 single-GPU hf records without DeepSpeed
//   (767-791 MiB).
constexpr uint64_t kHfCudaContextBytes = 829227008;
// - zplan's C++ runtime: measurement.memory.gpu.cuda_context_bytes of the 35 zplan records (619 MiB,
//   the same in every one).
constexpr uint64_t kZplanCudaContextBytes = 648871936;
// - NCCL communicator memory per rank: the largest outside-allocator bytes of the 34 multi-GPU hf
//   records (2 and 4 NVLink H100s, DDP and FSDP2: 1615-1625 MiB) minus kHfCudaContextBytes.
constexpr uint64_t kNcclCommunicatorBytes = 1703804928 - kHfCudaContextBytes;
// - DeepSpeed 0.19.8 on one GPU (tests/regression/measured/hf_deepspeed*): ZeRO stages 0-2 measure
//   1326.8 MiB outside the allocator in all five H200 records that report it and 1332.8 MiB in the six
//   H100 records of hf_deepspeed4 (the largest is taken), minus the Hugging Face context; ZeRO-3's
//   records 1716.8 MiB at most.
constexpr uint64_t kDeepSpeedOneGpuCommunicatorBytes = 1397555200 - kHfCudaContextBytes;
constexpr uint64_t kDeepSpeedZero3CommunicatorBytes = 1800208384 - 1397555200;
// - DeepSpeed's optimizer offload (tests/regression/measured/hf_deepspeed2): the CPU Adam extension
//   and the host<->device copy kernels it loads. ZeRO-2 offload runs measure 1366.8 and 1368.8 MiB
//   (36 MiB over the largest of stages 0-2 without it), ZeRO-3 offload runs 1734.8 MiB (18 MiB over
//   ZeRO-3): the largest difference is taken.
constexpr uint64_t kDeepSpeedCpuOptimizerModulesBytes = 1435303936 - 1397555200;

OutsideAllocator outside_allocator_bytes(const ExecContext& c);

}  // namespace zplan
