// safetensors_file.cpp: memory-mapped reading and plain writing (see safetensors_file.h).
#include "runtime/io/safetensors_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "planner/input_error.h"

namespace zplan::rt {

at::ScalarType scalar_type_of(const std::string& d, const std::string& path, const std::string& name) {
  if (d == "BF16") return at::kBFloat16;
  if (d == "F16") return at::kHalf;
  if (d == "F32") return at::kFloat;
  if (d == "F64") return at::kDouble;
  throw InputError(path, name, "dtype " + d + " is not a floating-point type the runtime reads (BF16, F16, F32, F64)");
}

std::string safetensors_dtype(at::ScalarType t) {
  switch (t) {
    case at::kBFloat16: return "BF16";
    case at::kHalf: return "F16";
    case at::kDouble: return "F64";
    case at::kLong: return "I64";
    case at::kInt: return "I32";
    case at::kShort: return "I16";
    case at::kChar: return "I8";
    case at::kByte: return "U8";
    case at::kBool: return "BOOL";
    default: return "F32";
  }
}

MappedSafetensors::MappedSafetensors(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(path, "", std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(path, "", "not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw InputError(path, "", std::string("cannot memory-map: ") + std::strerror(errno));
    }
    base_ = static_cast<const unsigned char*>(p);
  }
  ::close(fd);  // the mapping keeps the file open
  static const unsigned char kEmpty[1] = {0};
  try {
    header_ = parse_safetensors_header(base_ ? base_ : kEmpty, size_, path);
  } catch (...) {
    if (base_) ::munmap(const_cast<unsigned char*>(base_), size_);
    throw;
  }
  for (size_t i = 0; i < header_.tensors.size(); ++i) index_[header_.tensors[i].name] = i;
}

MappedSafetensors::~MappedSafetensors() {
  if (base_) ::munmap(const_cast<unsigned char*>(base_), size_);
}

const SafetensorsEntry* MappedSafetensors::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

at::Tensor MappedSafetensors::view(const SafetensorsEntry& e) const {
  const at::ScalarType t = scalar_type_of(e.dtype, path_, e.name);
  // The bytes are little-endian like the hosts zplan runs on; from_blob needs a non-const pointer
  // but the tensor is only read (a copy_ source).
  void* data = const_cast<unsigned char*>(base_ + header_.data_start + e.begin);
  return at::from_blob(data, e.shape, at::TensorOptions().dtype(t).device(at::kCPU));
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  std::vector<SafetensorsEntry> entries;
  for (const auto& [name, t] : tensors) {
    SafetensorsEntry e;
    e.name = name;
    e.dtype = safetensors_dtype(t.scalar_type());
    e.shape = t.sizes().vec();
    entries.push_back(std::move(e));
  }
  const std::string header = safetensors_header_bytes(entries);
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) throw InputError(path, "", std::string("cannot create: ") + std::strerror(errno));
  bool ok = std::fwrite(header.data(), 1, header.size(), f.get()) == header.size();
  for (size_t i = 0; i < tensors.size() && ok; ++i) {
    const at::Tensor host = tensors[i].second.detach().to(at::kCPU).contiguous();
    const size_t n = static_cast<size_t>(host.nbytes());
    ok = n == entries[i].end - entries[i].begin && std::fwrite(host.data_ptr(), 1, n, f.get()) == n;
  }
  ok = ok && std::fflush(f.get()) == 0 && ::fsync(fileno(f.get())) == 0;
  if (!ok) throw InputError(path, "", std::string("write failed: ") + std::strerror(errno));
}

}  // namespace zplan::rt
