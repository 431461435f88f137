// Recording and replay of a Timeline (see timeline.h).
#include "planner/memory/timeline.h"

#include "planner/memory/term_scales.h"

#include <stdexcept>

namespace zplan {

Timeline::Timeline(TimelineRecording recording) : recording_(recording) {
  // The test-only term multipliers (term_scales.h) are read once per timeline, not per event.
  const TermScales& scales = test_term_scales();
  activations_scale_ = scales.activations;
  logits_scale_ = scales.logits;
  master_weights_scale_ = scales.master_weights;
  if (recording_ != TimelineRecording::peak_only) events_.reserve(16384);
  live_.reserve(8192);
  if (recording_ == TimelineRecording::named_events) names_.reserve(8192);
}

std::string Timeline::name(int handle) const {
  return recording_ == TimelineRecording::named_events ? names_[static_cast<size_t>(handle)]
                                                       : std::string("(names not recorded)");
}

AllocEvent Timeline::event_of(AllocEvent::Kind kind, int handle, const LiveAllocation& a) const {
  AllocEvent e;
  e.kind = kind;
  e.handle = handle;
  e.category = a.category;
  e.bytes = a.bytes;
  e.count = a.count;
  e.stream = a.stream;
  return e;
}

int Timeline::alloc(Category category, std::string_view base, const char* suffix, uint64_t bytes, int64_t count,
                    int stream) {
  const int handle = static_cast<int>(live_.size());
  if (recording_ == TimelineRecording::named_events) names_.push_back(std::string(base).append(suffix));
  // Multiplies a term by its test-only scale (term_scales.h); 1 outside the mutation test.
  const double k = category == Category::activations      ? activations_scale_
                   : category == Category::logits         ? logits_scale_
                   : category == Category::master_weights ? master_weights_scale_
                                                          : 1.0;
  // Written in place: a copy built on the stack and pushed costs a store-forwarding stall per
  // field (perf: most of alloc's time).
  LiveAllocation& a = live_.emplace_back();
  a.bytes = count <= 0 ? 0 : k == 1.0 ? bytes : static_cast<uint64_t>(static_cast<double>(bytes) * k);
  a.count = count > 0 ? count : 1;
  a.stream = stream;
  a.category = category;
  a.freed = false;
  if (a.bytes == 0) return handle;
  if (recording_ == TimelineRecording::peak_only)
    replay_.alloc(category, allocator_rounded_bytes(a.bytes) * static_cast<uint64_t>(a.count), event_count_);
  else
    events_.push_back(event_of(AllocEvent::Kind::alloc, handle, a));
  ++event_count_;
  return handle;
}

void Timeline::free(int handle) {
  if (handle < 0 || static_cast<size_t>(handle) >= live_.size())
    throw std::logic_error("timeline: free of an unknown handle");
  LiveAllocation& a = live_[static_cast<size_t>(handle)];
  if (a.bytes == 0) return;
  if (a.freed) throw std::logic_error("timeline: double free of " + name(handle));
  a.freed = true;
  if (recording_ == TimelineRecording::peak_only)
    replay_.free(a.category, allocator_rounded_bytes(a.bytes) * static_cast<uint64_t>(a.count));
  else
    events_.push_back(event_of(AllocEvent::Kind::free, handle, a));
  ++event_count_;
}

void Timeline::free_all(const std::vector<int>& handles) {
  for (int h : handles) free(h);
}

void Timeline::begin_phase(Phase p, int step) {
  if (recording_ == TimelineRecording::peak_only) replay_.begin_phase(p, step);
  else mark(AllocEvent::Kind::phase_begin, p, step);
  ++event_count_;
}

void Timeline::end_phase(Phase p, int step) {
  if (recording_ == TimelineRecording::peak_only) replay_.end_phase(p);
  else mark(AllocEvent::Kind::phase_end, p, step);
  ++event_count_;
}

void Timeline::mark(AllocEvent::Kind kind, Phase p, int step) {
  AllocEvent e;
  e.kind = kind;
  e.phase = p;
  e.step = step;
  events_.push_back(e);
}

TimelineResult simulate(const Timeline& t) {
  if (t.recording() == TimelineRecording::peak_only) {
    TimelineResult r = t.replay().result();
    // Without names the largest allocation at the peak is only known to exist: every allocation
    // is charged at least 512 bytes, so one is live at any peak above zero.
    if (r.peak_bytes > 0) r.largest_at_peak = t.name(0);
    return r;
  }
  TimelineReplay replay;
  const std::vector<AllocEvent>& events = t.events();
  for (size_t i = 0; i < events.size(); ++i) {
    const AllocEvent& e = events[i];
    switch (e.kind) {
      case AllocEvent::Kind::alloc:
        replay.alloc(e.category, allocator_rounded_bytes(e.bytes) * static_cast<uint64_t>(e.count), i);
        break;
      case AllocEvent::Kind::free:
        replay.free(e.category, allocator_rounded_bytes(e.bytes) * static_cast<uint64_t>(e.count));
        break;
      case AllocEvent::Kind::phase_begin:
        replay.begin_phase(e.phase, e.step);
        break;
      case AllocEvent::Kind::phase_end:
        replay.end_phase(e.phase);
        break;
    }
  }
  TimelineResult r = replay.result();
  // Second pass up to the peak: which single allocation is largest there (for --explain).
  const size_t peak_index = replay.peak_event_index();
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
