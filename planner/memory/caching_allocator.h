// A model of PyTorch's CUDA caching allocator (c10/cuda/CUDACachingAllocator.cpp), replayed over a
// Timeline to predict reserved bytes: what the process takes from the driver, which is what runs
// out. Modelled: the 512-byte rounding; the small pool (requests <= 1 MiB, carved from 2 MiB
// segments) and the large pool (requests < 10 MiB get a 20 MiB segment, larger ones their own
// segment rounded to 2 MiB); best-fit reuse of cached free blocks with splitting (large-pool
// remainders over 1 MiB stay usable) and coalescing of neighbours; and, when the device is full,
// freeing every cached segment that holds no live block before retrying (an "alloc retry"). Cached
// blocks serve only requests on the stream that allocated them (FSDP2 collectives keep own pools).
// With expandable segments, reserved tracks allocated in 2 MiB pages.
#pragma once
#include <cstdint>

#include "planner/memory/timeline.h"

namespace zplan {

struct AllocatorOptions {
  uint64_t device_limit_bytes = 0;   // memory the allocator may take (capacity - context); 0 = none
  bool expandable_segments = false;  // PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
};

struct AllocatorResult {
  uint64_t peak_reserved_bytes = 0;
  uint64_t peak_allocated_bytes = 0;
  int alloc_retries = 0;             // cache flushes forced by a full device
  bool out_of_memory = false;        // a request could not be met even after flushing
  // At that failure: the segment it asked for, and what was reserved and allocated then (their
  // difference is the cached space no block of which could serve it).
  uint64_t failed_request_bytes = 0;
  uint64_t reserved_at_failure_bytes = 0;
  uint64_t allocated_at_failure_bytes = 0;
};

AllocatorResult replay_caching_allocator(const Timeline& t, const AllocatorOptions& options);

}  // namespace zplan
