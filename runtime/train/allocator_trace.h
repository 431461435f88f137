// allocator_trace.h: a record of every request the CUDA caching allocator saw (alloc, free,
// segment alloc/free) with the phase it happened in, written as JSON lines when the environment
// variable ZPLAN_ALLOCATOR_TRACE names a file. A diagnostic for the reserved-memory model
// (planner/memory/caching_allocator.h): where a measured run takes a segment the replay does not.
// Uses c10's own history (recordHistory / snapshot), without stack contexts. No-op on CPU builds,
// on CPU devices and when the variable is unset.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace zplan::rt {

class AllocatorTrace {
 public:
  AllocatorTrace(bool cuda, int device_index);
  bool enabled() const { return !path_.empty(); }
  // Marks that `phase` begins now: entries from here on belong to it (until the next mark).
  void mark(const std::string& phase);
  // Writes the markers and every entry to the file (appends; one line per entry).
  void write();

 private:
  int device_;
  std::string path_;
  std::vector<std::pair<size_t, std::string>> marks_;  // (trace index where the phase begins, phase)
};

}  // namespace zplan::rt
