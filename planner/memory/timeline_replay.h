// The allocated-memory replay of a Timeline, fed one event at a time: the peak, the phase and step
// it falls in, the composition at the peak and the per-phase values. simulate() (timeline.h) feeds
// it a recorded timeline's events after the fact; a peak-only timeline feeds it each event as it is
// appended, so the search's screen never stores the thousands of events of a step (perf put a
// quarter of the `--gpus auto` search in writing and re-reading them). Either way the result is
// the same, because the same code sees the same events in the same order.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "planner/memory/memory_breakdown.h"
#include "planner/memory/memory_category.h"

namespace zplan {

struct TimelineResult {
  uint64_t peak_bytes = 0;
  int peak_step = 0;
  Phase peak_phase = Phase::after_init;
  std::array<uint64_t, kCategoryCount> at_peak{};  // composition at the peak
  std::string largest_at_peak;  // name of the largest live allocation at the peak (for --explain)
  // Per phase of the last simulated step: allocated at phase end and the peak inside the phase.
  std::array<PhaseMemory, static_cast<size_t>(Phase::count)> phases{};
};

class TimelineReplay {
 public:
  // `charged_bytes`: what the allocator charges for the event's allocations (timeline.h's
  // allocator_rounded_bytes times the count). `event_index`: the event's position in the timeline.
  void alloc(Category category, uint64_t charged_bytes, size_t event_index) {
    total_bytes_ += charged_bytes;
    current_bytes_[static_cast<size_t>(category)] += charged_bytes;
    if (total_bytes_ > phase_peak_bytes_) phase_peak_bytes_ = total_bytes_;
    if (total_bytes_ > result_.peak_bytes) {  // the first time a peak is reached counts
      result_.peak_bytes = total_bytes_;
      result_.at_peak = current_bytes_;
      result_.peak_phase = phase_;
      result_.peak_step = step_;
      peak_event_index_ = event_index;
    }
  }
  void free(Category category, uint64_t charged_bytes) {
    total_bytes_ -= charged_bytes;
    current_bytes_[static_cast<size_t>(category)] -= charged_bytes;
  }
  void begin_phase(Phase p, int step) {
    phase_ = p;
    step_ = step;
    phase_peak_bytes_ = total_bytes_;
  }
  void end_phase(Phase p) {
    PhaseMemory& pm = result_.phases[static_cast<size_t>(p)];
    pm.phase = p;
    pm.allocated_bytes = total_bytes_;
    pm.peak_allocated_bytes = phase_peak_bytes_;
  }

  const TimelineResult& result() const { return result_; }
  size_t peak_event_index() const { return peak_event_index_; }

 private:
  TimelineResult result_;
  std::array<uint64_t, kCategoryCount> current_bytes_{};
  uint64_t total_bytes_ = 0, phase_peak_bytes_ = 0;
  Phase phase_ = Phase::after_init;
  int step_ = 0;
  size_t peak_event_index_ = 0;
};

}  // namespace zplan
