// Page-locked host memory as PyTorch hands it out. tensor.pin_memory() and
// torch.empty(..., pin_memory=True) go through the caching host allocator, which rounds every
// request up to the next power of two before cudaHostAlloc (CachingHostAllocator.h, allocate():
// "Round up the allocation to the nearest power of two"), and keeps freed blocks cached for reuse
// by requests of the same rounded size rather than returning them to the system. A 2.2 GiB fp32
// partition therefore holds 4 GiB resident.
#pragma once
#include <cstdint>

namespace zplan {

// Bytes resident for one pinned request of `bytes` (0 stays 0).
constexpr uint64_t pinned_host_bytes(uint64_t bytes) {
  if (bytes == 0) return 0;
  uint64_t rounded = 1;
  while (rounded < bytes) rounded <<= 1;
  return rounded;
}

static_assert(pinned_host_bytes(1) == 1 && pinned_host_bytes(3) == 4 && pinned_host_bytes(4096) == 4096,
              "next power of two");

}  // namespace zplan
