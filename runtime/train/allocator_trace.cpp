// allocator_trace.cpp: see allocator_trace.h.
#include "runtime/train/allocator_trace.h"

#include <cstdlib>
#include <fstream>

#include "runtime/torch_compat.h"

#if ZPLAN_RUNTIME_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace zplan::rt {

#if ZPLAN_RUNTIME_CUDA
namespace {

namespace cca = c10::cuda::CUDACachingAllocator;

size_t trace_length(int device) {
  const cca::SnapshotInfo snap = cca::snapshot();
  const size_t d = static_cast<size_t>(device);
  return d < snap.device_traces.size() ? snap.device_traces[d].size() : 0;
}

const char* action_name(c10::CachingDeviceAllocator::TraceEntry::Action a) {
  using A = c10::CachingDeviceAllocator::TraceEntry::Action;
  switch (a) {
    case A::ALLOC: return "alloc";
    case A::FREE_REQUESTED: return "free_requested";
    case A::FREE_COMPLETED: return "free_completed";
    case A::SEGMENT_ALLOC: return "segment_alloc";
    case A::SEGMENT_FREE: return "segment_free";
    case A::OOM: return "oom";
    default: return "other";
  }
}

}  // namespace
#endif

AllocatorTrace::AllocatorTrace(bool cuda, int device_index) : device_(device_index) {
#if ZPLAN_RUNTIME_CUDA
  const char* path = std::getenv("ZPLAN_ALLOCATOR_TRACE");
  if (!cuda || path == nullptr || *path == '\0') return;
  path_ = path;
  // Enough entries for a few steps of a large model; no stack contexts (they cost time).
  cca::recordHistory(true, nullptr, 4'000'000, cca::RecordContext::NEVER, true, {});
#else
  (void)cuda;
#endif
}

void AllocatorTrace::mark(const std::string& phase) {
#if ZPLAN_RUNTIME_CUDA
  if (enabled()) marks_.emplace_back(trace_length(device_), phase);
#else
  (void)phase;
#endif
}

void AllocatorTrace::write() {
#if ZPLAN_RUNTIME_CUDA
  if (!enabled()) return;
  const cca::SnapshotInfo snap = cca::snapshot();
  const size_t d = static_cast<size_t>(device_);
  if (d >= snap.device_traces.size()) return;
  std::ofstream out(path_, std::ios::app);
  size_t next_mark = 0;
  const auto& trace = snap.device_traces[d];
  for (size_t i = 0; i < trace.size(); ++i) {
    while (next_mark < marks_.size() && marks_[next_mark].first <= i)
      out << "{\"phase\":\"" << marks_[next_mark++].second << "\"}\n";
    const auto& e = trace[i];
    out << "{\"action\":\"" << action_name(e.action_) << "\",\"addr\":" << e.addr_ << ",\"size\":" << e.size_
        << ",\"stream\":" << reinterpret_cast<size_t>(e.stream_) << "}\n";
  }
  cca::recordHistory(false, nullptr, 0, cca::RecordContext::NEVER, true, {});
#endif
}

}  // namespace zplan::rt
