// Host RAM of ZeRO-Offload: DeepSpeed's buffers, and the pinned allocator's power-of-two rounding.
#include <doctest/doctest.h>

#include "planner/io/model_loader.h"
#include "planner/memory/deepspeed_host_buffers.h"
#include "planner/memory/params.h"
#include "planner/memory/pinned_host.h"

using namespace zplan;

namespace {
constexpr uint64_t kGiB = 1ull << 30;

uint64_t resident(const std::vector<HostBuffer>& buffers, bool pinned) {
  uint64_t sum = 0;
  for (const HostBuffer& b : buffers)
    if (b.pinned == pinned) sum += resident_bytes(b);
  return sum;
}
}  // namespace

TEST_CASE("pinned requests are rounded up to the next power of two") {
  CHECK(pinned_host_bytes(0) == 0);
  CHECK(pinned_host_bytes(kGiB) == kGiB);
  CHECK(pinned_host_bytes(kGiB + 1) == 2 * kGiB);
  CHECK(pinned_host_bytes(2'384'199'680) == 4 * kGiB);  // Qwen3-0.6B's fp32 partition
}

TEST_CASE("ZeRO-2 optimizer offload of Qwen3-0.6B: three pinned partitions, a staging buffer, pageable Adam states") {
  const ModelTables& tensors = model_tables(load_model("qwen3-0.6b"));
  const int64_t P = model_tables(load_model("qwen3-0.6b")).counts.total;
  OffloadShape s;
  s.zero_stage = 2;
  s.offload_optimizer = true;
  const std::vector<HostBuffer> b = deepspeed_offload_host_buffers(tensors, s);
  // fp32 master 2.22 GiB -> 4, bf16 copy 1.11 -> 2, fp32 grads -> 4, the embedding's bf16 staging
  // (151936 x 1024 x 2 B = 297 MiB) -> 512 MiB.
  CHECK(resident(b, true) == 4 * kGiB + 2 * kGiB + 4 * kGiB + kGiB / 2);
  CHECK(resident(b, false) == 8 * static_cast<uint64_t>(P));
  // Two ranks halve every partition: each pinned one falls to the next power below.
  s.data_parallel = 2;
  CHECK(resident(deepspeed_offload_host_buffers(tensors, s), true) == 2 * kGiB + kGiB + 2 * kGiB + kGiB / 2);
}

TEST_CASE("ZeRO-3 parameter offload keeps each partitioned tensor's pinned block cached") {
  const ModelSpec m = load_model("qwen3-0.6b");
  const ModelTables& tensors = model_tables(m);
  OffloadShape s;
  s.zero_stage = 3;
  s.offload_params = true;
  uint64_t cached = 0;
  for (const HostBuffer& b : deepspeed_offload_host_buffers(tensors, s))
    if (std::string(b.what) == "partitioned parameter (cached)") cached += resident_bytes(b);
  // The embedding (512 MiB) and 28 layers of q, o (4 MiB), k, v (2 MiB), gate/up/down (8 MiB):
  // norms are under the persistence threshold and stay on the GPU.
  CHECK(cached == kGiB / 2 + 28ull * (4 + 4 + 2 + 2 + 3 * 8) * (1ull << 20));
  // Without offload nothing is on the host.
  s.offload_params = false;
  CHECK(deepspeed_offload_host_buffers(tensors, s).empty());
}
