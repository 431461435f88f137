// Timeline: a training step as a sequence of allocation and free events (docs/memory-model.md §1: a timeline, not
// a sum). The step simulation (step_simulation.cpp) appends events at tensor granularity in the
// order the framework allocates them; simulate() replays them, rounding each request as PyTorch's
// caching allocator does, and reports the peak, the composition at the peak and per-phase values.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "planner/memory/memory_breakdown.h"
#include "planner/memory/memory_category.h"  // Category: what each allocation is charged to

namespace zplan {

struct AllocEvent {
  enum class Kind { alloc, free, phase_begin, phase_end } kind = Kind::alloc;
  int handle = -1;             // allocation id (alloc/free)
  Category category = Category::working;
  uint64_t bytes = 0;          // requested bytes of one allocation
  int64_t count = 1;           // number of equal allocations
  int stream = 0;              // CUDA stream it is allocated on (0: compute; others: collectives)
  Phase phase = Phase::after_init;
  int step = 0;                // 1-based optimizer step the event belongs to
};

class Timeline {
 public:
  // Names are kept only when asked for (reports); the search runs without them. 
  // A step of a large model appends thousands of events: reserving up front avoids regrowing the
  // vectors (perf put 8% of the plan search in their reallocation). Untouched capacity costs no page.
  explicit Timeline(bool record_names = true) : record_names_(record_names) {
    events_.reserve(16384);
    live_.reserve(8192);
    if (record_names_) names_.reserve(8192);
  }
  // Allocates `count` tensors of `bytes` each, named base + suffix; returns a handle for free().
  // Zero bytes: no event.
  int alloc(Category category, const std::string& base, const char* suffix, uint64_t bytes, int64_t count = 1,
            int stream = 0);
  void free(int handle);
  void free_all(const std::vector<int>& handles);
  void begin_phase(Phase p, int step) { mark(AllocEvent::Kind::phase_begin, p, step); }
  void end_phase(Phase p, int step) { mark(AllocEvent::Kind::phase_end, p, step); }

  const std::vector<AllocEvent>& events() const { return events_; }
  std::string name(int handle) const;
  size_t handle_count() const { return live_.size(); }

 private:
  void mark(AllocEvent::Kind kind, Phase p, int step);
  std::vector<AllocEvent> events_;
  bool record_names_ = true;
  std::vector<std::string> names_;
  std::vector<AllocEvent> live_;  // indexed by handle
};

// Bytes the caching allocator charges to `allocated` for one request served from a fresh segment:
// the request rounded to 512 bytes, except that a large request (>= 10 MiB, own segment rounded up
// to 2 MiB) whose leftover is at most 1 MiB is not split, so the whole segment is charged.
uint64_t allocator_rounded_bytes(uint64_t bytes);

struct TimelineResult {
  uint64_t peak_bytes = 0;
  int peak_step = 0;
  Phase peak_phase = Phase::after_init;
  std::array<uint64_t, kCategoryCount> at_peak{};  // composition at the peak
  std::string largest_at_peak;  // name of the largest live allocation at the peak (for --explain)
  // Per phase of the last simulated step: allocated at phase end and the peak inside the phase.
  std::array<PhaseMemory, static_cast<size_t>(Phase::count)> phases{};
};

TimelineResult simulate(const Timeline& t);

}  // namespace zplan
