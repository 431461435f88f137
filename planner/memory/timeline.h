// Timeline: a training step as a sequence of allocation and free events (docs/memory-model.md §1: a timeline, not
// a sum). The step simulation (step_simulation.cpp) appends events at tensor granularity in the
// order the framework allocates them; simulate() replays them, rounding each request as PyTorch's
// caching allocator does, and reports the peak, the composition at the peak and per-phase values.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "planner/memory/memory_breakdown.h"
#include "planner/memory/memory_category.h"  // Category: what each allocation is charged to
#include "planner/memory/timeline_replay.h"

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

// What a Timeline keeps. Reports need every event with its name (--explain names the largest
// tensor at the peak); the allocator replay and tests need the events; the search's screen needs
// only simulate()'s result, which a peak-only timeline computes as events arrive (timeline_replay.h).
enum class TimelineRecording { named_events, events, peak_only };

class Timeline {
 public:
  // A step of a large model appends thousands of events: reserving up front avoids regrowing the
  // vectors (perf put 8% of the plan search in their reallocation). Untouched capacity costs no page.
  explicit Timeline(TimelineRecording recording = TimelineRecording::named_events);
  // Allocates `count` tensors of `bytes` each, named base + suffix; returns a handle for free().
  // Zero bytes: no event. A view, so that a literal name costs no string when names are not kept.
  int alloc(Category category, std::string_view base, const char* suffix, uint64_t bytes, int64_t count = 1,
            int stream = 0);
  void free(int handle);
  void free_all(const std::vector<int>& handles);
  void begin_phase(Phase p, int step);
  void end_phase(Phase p, int step);

  TimelineRecording recording() const { return recording_; }
  // Empty for a peak-only timeline.
  const std::vector<AllocEvent>& events() const { return events_; }
  std::string name(int handle) const;
  size_t handle_count() const { return live_.size(); }
  // The replay of every event so far (peak-only timelines: simulate() reads it).
  const TimelineReplay& replay() const { return replay_; }

 private:
  // What free() needs of an allocation: the fields its free event repeats, 32 bytes against
  // AllocEvent's 48 (one is written per handle, thousands per step).
  struct LiveAllocation {
    uint64_t bytes;
    int64_t count;
    int stream;
    Category category;
    bool freed;
  };
  AllocEvent event_of(AllocEvent::Kind kind, int handle, const LiveAllocation& a) const;
  void mark(AllocEvent::Kind kind, Phase p, int step);
  TimelineRecording recording_;
  double activations_scale_, logits_scale_, master_weights_scale_;  // term_scales.h, read once
  std::vector<AllocEvent> events_;
  std::vector<std::string> names_;
  std::vector<LiveAllocation> live_;  // indexed by handle
  TimelineReplay replay_;             // peak-only timelines
  size_t event_count_ = 0;            // events appended (stored or not): the replay's event index
};

// Bytes the caching allocator charges to `allocated` for one request served from a fresh segment:
// the request rounded to 512 bytes, except that a large request (>= 10 MiB, own segment rounded up
// to 2 MiB) whose leftover is at most 1 MiB is not split, so the whole segment is charged.
// Inline: called once per event of every timeline.
inline uint64_t allocator_rounded_bytes(uint64_t bytes) {
  constexpr uint64_t kMiB = 1ull << 20;
  const uint64_t rounded = (bytes + 511) / 512 * 512;
  if (rounded < 10 * kMiB) return rounded;
  const uint64_t segment = (rounded + 2 * kMiB - 1) / (2 * kMiB) * (2 * kMiB);
  return segment - rounded > kMiB ? rounded : segment;
}

// The replay of the timeline's allocated memory (timeline_replay.h), with the name of the largest
// allocation live at the peak when names are recorded.
TimelineResult simulate(const Timeline& t);

}  // namespace zplan
