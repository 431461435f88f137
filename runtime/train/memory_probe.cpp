// memory_probe.cpp: MemoryProbe (memory_probe.h) over c10's CUDA caching allocator statistics.
#include "runtime/train/memory_probe.h"

#include "runtime/torch_compat.h"

#if ZPLAN_RUNTIME_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#endif

namespace zplan::rt {

AllocStats MemoryProbe::read_and_reset() {
  AllocStats s;
#if ZPLAN_RUNTIME_CUDA
  if (cuda_) {
    cudaDeviceSynchronize();
    const auto st = c10::cuda::CUDACachingAllocator::getDeviceStats(device_);
    const auto agg = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    s.allocated = static_cast<uint64_t>(st.allocated_bytes[agg].current);
    s.peak_allocated = static_cast<uint64_t>(st.allocated_bytes[agg].peak);
    s.reserved = static_cast<uint64_t>(st.reserved_bytes[agg].current);
    s.peak_reserved = static_cast<uint64_t>(st.reserved_bytes[agg].peak);
    c10::cuda::CUDACachingAllocator::resetPeakStats(device_);
  }
#endif
  return s;
}

void MemoryProbe::empty_cache() {
#if ZPLAN_RUNTIME_CUDA
  if (cuda_) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

void MemoryProbe::context_and_capacity(uint64_t reserved, uint64_t* context, uint64_t* capacity) {
  *context = 0;
  *capacity = 0;
#if ZPLAN_RUNTIME_CUDA
  if (cuda_) {
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) {
      *capacity = total_b;
      const uint64_t used = total_b - free_b;
      *context = used > reserved ? used - reserved : 0;
    }
  }
#else
  (void)reserved;
#endif
}

std::string MemoryProbe::device_name() const {
#if ZPLAN_RUNTIME_CUDA
  cudaDeviceProp prop{};
  if (cuda_ && cudaGetDeviceProperties(&prop, device_) == cudaSuccess) return prop.name;
#endif
  return "cpu";
}

void use_cuda_device(int device_index) {
#if ZPLAN_RUNTIME_CUDA
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(device_index));
  // The caching allocator sizes its per-device tables on the first CUDA allocation; reading or
  // resetting its statistics before one ("Invalid device argument ... did you call init?") would
  // throw, and the probe reads the baseline before the model exists.
  c10::cuda::CUDACachingAllocator::init(c10::cuda::device_count());
#else
  (void)device_index;
#endif
}

}  // namespace zplan::rt
