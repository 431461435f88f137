// Caching-allocator replay (see caching_allocator.h). Addresses are virtual: each segment gets a
// fresh range so that neighbouring blocks can be found for coalescing.
#include "planner/memory/caching_allocator.h"

#include <iterator>
#include <map>
#include <set>
#include <vector>

namespace zplan {
namespace {

constexpr uint64_t kMiB = 1024ull * 1024ull;
constexpr uint64_t kSmallSize = 1 * kMiB;      // requests up to this use the small pool
constexpr uint64_t kSmallBuffer = 2 * kMiB;    // small-pool segment size
constexpr uint64_t kLargeBuffer = 20 * kMiB;   // segment for requests under kMinLargeAlloc
constexpr uint64_t kMinLargeAlloc = 10 * kMiB;
constexpr uint64_t kRoundLarge = 2 * kMiB;

struct Block {
  uint64_t segment = 0;
  uint64_t size = 0;
  bool free = true;
  bool small = false;
  int stream = 0;
};

class Allocator {
 public:
  explicit Allocator(const AllocatorOptions& o) : opt_(o) {}

  // Returns the block address, or UINT64_MAX when the device is out of memory.
  uint64_t malloc(uint64_t request, int stream) {
    const uint64_t size = request < 512 ? 512 : (request + 511) / 512 * 512;
    const bool small = size <= kSmallSize;
    stream_ = stream;
    uint64_t addr = find_free(size, small);
    if (addr == UINT64_MAX) {
      const uint64_t seg = segment_size(size);
      if (opt_.device_limit_bytes && reserved_ + seg > opt_.device_limit_bytes) {
        release_free_segments();
        ++result.alloc_retries;
        if (reserved_ + seg > opt_.device_limit_bytes) {
          result.out_of_memory = true;
          result.failed_request_bytes = seg;
          result.reserved_at_failure_bytes = reserved_;
          result.allocated_at_failure_bytes = allocated_;
          return UINT64_MAX;
        }
      }
      addr = new_segment(seg, small);
    }
    split(addr, size);
    blocks_[addr].free = false;
    free_set_of(blocks_[addr]).erase({blocks_[addr].size, addr});
    allocated_ += blocks_[addr].size;
    if (allocated_ > result.peak_allocated_bytes) result.peak_allocated_bytes = allocated_;
    return addr;
  }

  void free(uint64_t addr) {
    Block& b = blocks_.at(addr);
    allocated_ -= b.size;
    b.free = true;
    uint64_t a = addr;
    // Coalesce with the following block, then with the preceding one, within the segment.
    auto it = blocks_.find(a);
    auto next = std::next(it);
    if (next != blocks_.end() && next->second.free && next->second.segment == b.segment) {
      free_set_of(next->second).erase({next->second.size, next->first});
      it->second.size += next->second.size;
      blocks_.erase(next);
    }
    if (it != blocks_.begin()) {
      auto prev = std::prev(it);
      if (prev->second.free && prev->second.segment == it->second.segment) {
        free_set_of(prev->second).erase({prev->second.size, prev->first});
        prev->second.size += it->second.size;
        blocks_.erase(it);
        a = prev->first;
      }
    }
    free_set_of(blocks_[a]).insert({blocks_[a].size, a});
  }

  AllocatorResult result;

 private:
  using FreeSet = std::set<std::pair<uint64_t, uint64_t>>;  // (size, addr): best fit = lower_bound
  // Cached blocks are reused only by requests on the stream that allocated them.
  FreeSet& free_set(bool small) { return free_sets_[{stream_, small}]; }
  FreeSet& free_set_of(const Block& b) { return free_sets_[{b.stream, b.small}]; }

  uint64_t segment_size(uint64_t size) const {
    if (opt_.expandable_segments) return (size + kRoundLarge - 1) / kRoundLarge * kRoundLarge;
    if (size <= kSmallSize) return kSmallBuffer;
    if (size < kMinLargeAlloc) return kLargeBuffer;
    return (size + kRoundLarge - 1) / kRoundLarge * kRoundLarge;
  }

  uint64_t find_free(uint64_t size, bool small) {
    FreeSet& s = free_set(small);
    auto it = s.lower_bound({size, 0});
    if (it == s.end()) return UINT64_MAX;
    // Large requests do not take a cached block much larger than needed from an oversize segment
    // (max_split_size is unlimited by default, so any fit is taken).
    return it->second;
  }

  uint64_t new_segment(uint64_t seg, bool small) {
    const uint64_t addr = next_addr_;
    next_addr_ += seg + kRoundLarge;  // gap: blocks of different segments never touch
    blocks_[addr] = Block{addr, seg, true, small, stream_};
    segments_[addr] = seg;
    free_set(small).insert({seg, addr});
    reserved_ += seg;
    if (reserved_ > result.peak_reserved_bytes) result.peak_reserved_bytes = reserved_;
    return addr;
  }

  void split(uint64_t addr, uint64_t size) {
    Block& b = blocks_[addr];
    const uint64_t remaining = b.size - size;
    // The allocator splits small-pool blocks when >= 512 bytes remain, large-pool blocks when
    // more than 1 MiB remains; otherwise the whole block is handed out.
    const bool do_split = b.small ? remaining >= 512 : remaining > kSmallSize;
    if (!do_split) return;
    free_set_of(b).erase({b.size, addr});
    b.size = size;
    free_set_of(b).insert({b.size, addr});
    blocks_[addr + size] = Block{b.segment, remaining, true, b.small, b.stream};
    free_set_of(b).insert({remaining, addr + size});
  }

  void release_free_segments() {
    for (auto it = segments_.begin(); it != segments_.end();) {
      auto b = blocks_.find(it->first);
      if (b != blocks_.end() && b->second.free && b->second.size == it->second) {
        free_set_of(b->second).erase({b->second.size, b->first});
        blocks_.erase(b);
        reserved_ -= it->second;
        it = segments_.erase(it);
      } else {
        ++it;
      }
    }
  }

  AllocatorOptions opt_;
  std::map<uint64_t, Block> blocks_;
  std::map<uint64_t, uint64_t> segments_;  // start -> size
  std::map<std::pair<int, bool>, FreeSet> free_sets_;  // by (stream, small pool)
  int stream_ = 0;                                      // stream of the request being served
  uint64_t next_addr_ = 0, reserved_ = 0, allocated_ = 0;
};

}  // namespace

AllocatorResult replay_caching_allocator(const Timeline& t, const AllocatorOptions& options) {
  Allocator a(options);
  std::vector<std::vector<uint64_t>> addrs(t.handle_count());
  for (const AllocEvent& e : t.events()) {
    if (e.kind == AllocEvent::Kind::alloc) {
      auto& v = addrs[static_cast<size_t>(e.handle)];
      for (int64_t i = 0; i < e.count; ++i) {
        const uint64_t addr = a.malloc(e.bytes, e.stream);
        if (addr == UINT64_MAX) return a.result;
        v.push_back(addr);
      }
    } else if (e.kind == AllocEvent::Kind::free) {
      for (uint64_t addr : addrs[static_cast<size_t>(e.handle)]) a.free(addr);
      addrs[static_cast<size_t>(e.handle)].clear();
    }
  }
  return a.result;
}

}  // namespace zplan
