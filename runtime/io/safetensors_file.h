// safetensors_file.h: read a .safetensors file through a read-only memory map (host RAM holds only
// the pages a copy touches, and the kernel may drop them again), and write one from CPU tensors.
// The layout and its checks are planner/io/safetensors_header.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "planner/io/safetensors_header.h"
#include "runtime/torch_compat.h"

namespace zplan::rt {

// Reading: BF16/F16/F32/F64 -> at::ScalarType, InputError(path, name) for any other dtype.
// Writing: the safetensors name of any dtype the writer meets.
at::ScalarType scalar_type_of(const std::string& st_dtype, const std::string& path, const std::string& name);
std::string safetensors_dtype(at::ScalarType t);

class MappedSafetensors {
 public:
  explicit MappedSafetensors(const std::string& path);  // InputError: missing, unreadable, truncated
  ~MappedSafetensors();
  MappedSafetensors(const MappedSafetensors&) = delete;
  MappedSafetensors& operator=(const MappedSafetensors&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& tensors() const { return header_.tensors; }
  const SafetensorsEntry* find(const std::string& name) const;
  // A CPU tensor viewing the mapped bytes (no copy; valid while this object lives; never write to it).
  at::Tensor view(const SafetensorsEntry& e) const;

 private:
  std::string path_;
  const unsigned char* base_ = nullptr;
  uint64_t size_ = 0;
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_;
};

// Writes `tensors` (any device; copied to the host one at a time, contiguous) to `path` and
// fsyncs it. InputError(path) when it cannot be written. Not atomic by itself: callers write into
// a temporary directory and rename it (hf_checkpoint.h).
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors);

}  // namespace zplan::rt
