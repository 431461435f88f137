// token_data.cpp: reading, checking and writing flat token files (format in token_data.h).
#include "runtime/data/token_data.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "planner/input_error.h"

namespace zplan::rt {
namespace {

int width_of_dtype(const std::string& where, const std::string& field, const std::string& dtype) {
  if (dtype == "uint16") return 2;
  if (dtype == "uint32") return 4;
  throw InputError(where, field, "expected uint16 or uint32, got '" + dtype + "'");
}

// Reads FILE.json if it exists; fills format and says whether it did.
bool read_sidecar(const std::string& sidecar, TokenFormat* format) {
  std::ifstream in(sidecar);
  if (!in) return false;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(sidecar, "", std::string("is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw InputError(sidecar, "", "expected a JSON object {\"dtype\": ..., \"eos\": ..., \"vocab\": ...}");
  for (const auto& [key, value] : j.items())
    if (key != "dtype" && key != "eos" && key != "vocab" && key != "tokenizer" && key != "documents")
      throw InputError(sidecar, key, "unknown key (known: dtype, eos, vocab, tokenizer, documents)");
  if (!j.contains("dtype") || !j["dtype"].is_string())
    throw InputError(sidecar, "dtype", "required: \"uint16\" or \"uint32\"");
  format->bytes_per_token = width_of_dtype(sidecar, "dtype", j["dtype"].get<std::string>());
  for (const char* key : {"eos", "vocab"}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    if (!j[key].is_number_integer() || j[key].get<int64_t>() < 0)
      throw InputError(sidecar, key, "expected a non-negative integer");
    (std::string(key) == "eos" ? format->eos_id : format->vocab) = j[key].get<int64_t>();
  }
  if (j.contains("documents")) {
    if (!j["documents"].is_number_integer() || j["documents"].get<int64_t>() < 0)
      throw InputError(sidecar, "documents", "expected a non-negative integer");
    format->declared_documents = j["documents"].get<int64_t>();
  }
  return true;
}

}  // namespace

TokenFormat resolve_token_format(const std::string& path, const std::string& dtype_flag,
                                 int64_t eos_flag) {
  TokenFormat f;
  const std::string sidecar = path + ".json";
  const bool has_sidecar = read_sidecar(sidecar, &f);
  if (!dtype_flag.empty()) {
    const int width = width_of_dtype("--data-dtype", "", dtype_flag);
    if (has_sidecar && width != f.bytes_per_token)
      throw InputError("--data-dtype", "", dtype_flag + " contradicts " + sidecar + " (dtype uint" +
                                               std::to_string(8 * f.bytes_per_token) + ")");
    f.bytes_per_token = width;
  }
  if (eos_flag >= 0) {
    if (f.eos_id >= 0 && f.eos_id != eos_flag)
      throw InputError("--eos", "", std::to_string(eos_flag) + " contradicts " + sidecar + " (eos " +
                                        std::to_string(f.eos_id) + ")");
    f.eos_id = eos_flag;
  }
  if (f.vocab >= 0 && f.eos_id >= f.vocab)
    throw InputError(has_sidecar ? sidecar : "--eos", "eos", "id " + std::to_string(f.eos_id) +
                                                 " is not below the vocab " + std::to_string(f.vocab));
  return f;
}

TokenFile::TokenFile(const std::string& path, TokenFormat format) : path_(path), format_(format) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw InputError(path, "", "cannot open the token file");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(path, "", "is not a regular file");
  }
  const auto bytes = static_cast<size_t>(st.st_size);
  const size_t width = static_cast<size_t>(format_.bytes_per_token);
  if (bytes == 0) {
    ::close(fd);
    throw InputError(path, "", "is empty (a token file holds at least one sequence plus one token)");
  }
  if (bytes % width != 0) {
    ::close(fd);
    throw InputError(path, "", "has " + std::to_string(bytes) + " bytes, not a multiple of " +
                                   std::to_string(width) + " (uint" + std::to_string(8 * width) +
                                   " tokens); wrong --data-dtype or a truncated file");
  }
  void* map = ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw InputError(path, "", "cannot be memory-mapped");
  bytes_ = static_cast<const unsigned char*>(map);
  mapped_bytes_ = bytes;
  count_ = static_cast<int64_t>(bytes / width);
  for (int64_t i = 0; i < count_; ++i) {
    const int64_t id = at(i);
    if (id > max_token_) max_token_ = id;
    if (id == format_.eos_id && i + 1 < count_) ++documents_;  // a trailing eos ends the last document
  }
}

TokenFile::~TokenFile() {
  if (bytes_) ::munmap(const_cast<unsigned char*>(bytes_), mapped_bytes_);
}

int64_t TokenFile::at(int64_t i) const {
  const unsigned char* p = bytes_ + static_cast<size_t>(i) * format_.bytes_per_token;
  uint32_t v = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8);
  if (format_.bytes_per_token == 4) v |= (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
  return static_cast<int64_t>(v);
}

void TokenFile::check_ids_below(int64_t vocab, const std::string& what) const {
  if (max_token_ < vocab) return;
  for (int64_t i = 0; i < count_; ++i)
    if (at(i) >= vocab)
      throw InputError(path_, "", "token " + std::to_string(i) + " (byte offset " +
                                      std::to_string(i * format_.bytes_per_token) + ") is id " +
                                      std::to_string(at(i)) + ", not below " + what + " " +
                                      std::to_string(vocab));
}

int64_t TokenFile::windows(int64_t tokens) const {
  if (count_ < tokens + 1)
    throw InputError(path_, "", "holds " + std::to_string(count_) + " tokens; a sequence of " +
                                    std::to_string(tokens) + " (--seq) needs at least " +
                                    std::to_string(tokens + 1));
  return (count_ - 1) / tokens;
}

void TokenFile::read_window(int64_t w, int64_t tokens, std::vector<int64_t>* ids,
                            std::vector<int64_t>* targets) const {
  const int64_t start = w * tokens;
  for (int64_t t = 0; t < tokens; ++t) {
    ids->push_back(at(start + t));
    targets->push_back(at(start + t + 1));
  }
}

std::vector<uint16_t> bytes_to_tokens(const std::string& text) {
  std::vector<uint16_t> out(text.size());
  for (size_t i = 0; i < text.size(); ++i) out[i] = static_cast<unsigned char>(text[i]);
  return out;
}

void write_token_file(const std::string& path, const std::vector<uint32_t>& tokens, int bytes_per_token) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw InputError(path, "", "cannot be written");
  for (uint32_t t : tokens) {
    const char b[4] = {static_cast<char>(t & 0xff), static_cast<char>((t >> 8) & 0xff),
                       static_cast<char>((t >> 16) & 0xff), static_cast<char>(t >> 24)};
    out.write(b, bytes_per_token);
  }
  if (!out) throw InputError(path, "", "write failed");
}

void write_token_file(const std::string& path, const std::vector<uint16_t>& tokens) {
  write_token_file(path, std::vector<uint32_t>(tokens.begin(), tokens.end()), 2);
}

}  // namespace zplan::rt
