// memory_probe.h: reads the CUDA caching allocator of this rank's device at phase boundaries
// (trainer.cpp). On CPU every reading is zero: the allocator statistics exist only for CUDA.
#pragma once

#include <cstdint>
#include <string>

namespace zplan::rt {

struct AllocStats {
  uint64_t allocated = 0, peak_allocated = 0, reserved = 0, peak_reserved = 0;
};

class MemoryProbe {
 public:
  MemoryProbe(bool cuda, int device_index) : cuda_(cuda), device_(device_index) {}
  bool cuda() const { return cuda_; }
  // Synchronises the device, reads the statistics and resets the peaks (each phase's own peak).
  AllocStats read_and_reset();
  void empty_cache();
  // Device memory in use outside the caching allocator (CUDA context, cuBLAS, NCCL) and the capacity.
  void context_and_capacity(uint64_t reserved, uint64_t* context, uint64_t* capacity);
  std::string device_name() const;

 private:
  bool cuda_;
  int device_;
};

// Makes `device_index` the current CUDA device (before anything allocates; no-op on CPU builds).
void use_cuda_device(int device_index);

}  // namespace zplan::rt
