// Replay of a Timeline (see timeline.h).
#include "planner/memory/timeline.h"

#include "planner/memory/term_scales.h"

#include <stdexcept>

namespace zplan {

uint64_t allocator_rounded_bytes(uint64_t bytes) {
  constexpr uint64_t kMiB = 1ull << 20;
  const uint64_t rounded = (bytes + 511) / 512 * 512;
  if (rounded < 10 * kMiB) return rounded;
  const uint64_t segment = (rounded + 2 * kMiB - 1) / (2 * kMiB) * (2 * kMiB);
  return segment - rounded > kMiB ? rounded : segment;
}

namespace {

// Multiplies a term by its test-only scale (term_scales.h); 1 outside the mutation test.
uint64_t scaled_for_test(Category category, uint64_t bytes) {
  const TermScales& t = test_term_scales();
  const double k = category == Category::activations      ? t.activations
                   : category == Category::logits         ? t.logits
                   : category == Category::master_weights ? t.master_weights
                                                          : 1.0;
  return k == 1.0 ? bytes : static_cast<uint64_t>(static_cast<double>(bytes) * k);
}

}  // namespace

std::string Timeline::name(int handle) const {
  return record_names_ ? names_[static_cast<size_t>(handle)] : std::string("(names not recorded)");
}

int Timeline::alloc(Category category, const std::string& base, const char* suffix, uint64_t bytes, int64_t count,
                    int stream) {
  const int handle = static_cast<int>(live_.size());
  if (record_names_) names_.push_back(base + suffix);
  AllocEvent e;
  e.kind = AllocEvent::Kind::alloc;
  e.handle = handle;
  e.category = category;
  e.bytes = count > 0 ? scaled_for_test(category, bytes) : 0;
  e.count = count > 0 ? count : 1;
  e.stream = stream;
  live_.push_back(e);
  if (e.bytes > 0) events_.push_back(e);
  return handle;
}

void Timeline::free(int handle) {
  if (handle < 0 || static_cast<size_t>(handle) >= live_.size())
    throw std::logic_error("timeline: free of an unknown handle");
  AllocEvent e = live_[static_cast<size_t>(handle)];
  if (e.bytes == 0) return;
  if (e.kind == AllocEvent::Kind::free) throw std::logic_error("timeline: double free of " + name(handle));
  live_[static_cast<size_t>(handle)].kind = AllocEvent::Kind::free;
  e.kind = AllocEvent::Kind::free;
  events_.push_back(e);
}

void Timeline::free_all(const std::vector<int>& handles) {
  for (int h : handles) free(h);
}

void Timeline::mark(AllocEvent::Kind kind, Phase p, int step) {
  AllocEvent e;
  e.kind = kind;
  e.phase = p;
  e.step = step;
  events_.push_back(e);
}

TimelineResult simulate(const Timeline& t) {
  TimelineResult r;
  std::array<uint64_t, static_cast<size_t>(Category::count)> current{};
  uint64_t total = 0, phase_peak = 0;
  Phase phase = Phase::after_init;
  int step = 0;
  size_t peak_index = 0;
  const std::vector<AllocEvent>& events = t.events();
  for (size_t i = 0; i < events.size(); ++i) {
    const AllocEvent& e = events[i];
    switch (e.kind) {
      case AllocEvent::Kind::alloc: {
        const uint64_t b = allocator_rounded_bytes(e.bytes) * static_cast<uint64_t>(e.count);
        total += b;
        current[static_cast<size_t>(e.category)] += b;
        if (total > phase_peak) phase_peak = total;
        if (total > r.peak_bytes) {
          r.peak_bytes = total;
          r.at_peak = current;
          r.peak_phase = phase;
          r.peak_step = step;
          peak_index = i;
        }
        break;
      }
      case AllocEvent::Kind::free: {
        const uint64_t b = allocator_rounded_bytes(e.bytes) * static_cast<uint64_t>(e.count);
        total -= b;
        current[static_cast<size_t>(e.category)] -= b;
        break;
      }
      case AllocEvent::Kind::phase_begin:
        phase = e.phase;
        step = e.step;
        phase_peak = total;
        break;
      case AllocEvent::Kind::phase_end: {
        PhaseMemory& pm = r.phases[static_cast<size_t>(e.phase)];
        pm.phase = e.phase;
        pm.allocated_bytes = total;
        pm.peak_allocated_bytes = phase_peak;
        break;
      }
    }
  }
  // Second pass up to the peak: which single allocation is largest there (for --explain).
  std::vector<uint64_t> live(t.handle_count(), 0);
  for (size_t i = 0; i <= peak_index && i < events.size(); ++i) {
    const AllocEvent& e = events[i];
    if (e.kind == AllocEvent::Kind::alloc)
      live[static_cast<size_t>(e.handle)] = allocator_rounded_bytes(e.bytes) * static_cast<uint64_t>(e.count);
    else if (e.kind == AllocEvent::Kind::free)
      live[static_cast<size_t>(e.handle)] = 0;
  }
  uint64_t largest = 0;
  for (size_t h = 0; h < live.size(); ++h)
    if (live[h] > largest) { largest = live[h]; r.largest_at_peak = t.name(static_cast<int>(h)); }
  return r;
}

}  // namespace zplan
