// token_data.cpp: reading and writing flat uint16 token files (nanoGPT's train.bin format).
#include "runtime/data/token_data.h"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "planner/input_error.h"

namespace zplan::rt {

TokenFile::TokenFile(const std::string& path) : path_(path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot open the token file (--data expects a flat uint16 file)");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() % 2 != 0)
    throw InputError(path, "", "has an odd number of bytes; expected little-endian uint16 tokens");
  if (bytes.size() < 4) throw InputError(path, "", "holds fewer than 2 tokens");
  tokens_.resize(bytes.size() / 2);
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const auto lo = static_cast<unsigned char>(bytes[2 * i]);
    const auto hi = static_cast<unsigned char>(bytes[2 * i + 1]);
    tokens_[i] = static_cast<uint16_t>(lo | (hi << 8));
  }
  max_token_ = *std::max_element(tokens_.begin(), tokens_.end());
}

void TokenFile::sample(int64_t batch, int64_t tokens, std::mt19937_64& rng,
                       std::vector<int64_t>* ids, std::vector<int64_t>* targets) const {
  if (size() < tokens + 1)
    throw InputError(path_, "", "holds " + std::to_string(size()) + " tokens; a sequence of " +
                                    std::to_string(tokens) + " needs at least " +
                                    std::to_string(tokens + 1));
  std::uniform_int_distribution<int64_t> start_dist(0, size() - tokens - 1);
  ids->resize(static_cast<size_t>(batch * tokens));
  targets->resize(static_cast<size_t>(batch * tokens));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t start = start_dist(rng);
    for (int64_t t = 0; t < tokens; ++t) {
      (*ids)[b * tokens + t] = tokens_[start + t];
      (*targets)[b * tokens + t] = tokens_[start + t + 1];
    }
  }
}

std::vector<uint16_t> bytes_to_tokens(const std::string& text) {
  std::vector<uint16_t> out(text.size());
  for (size_t i = 0; i < text.size(); ++i) out[i] = static_cast<unsigned char>(text[i]);
  return out;
}

void write_token_file(const std::string& path, const std::vector<uint16_t>& tokens) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw InputError(path, "", "cannot be written");
  for (uint16_t t : tokens) {
    const char b[2] = {static_cast<char>(t & 0xff), static_cast<char>(t >> 8)};
    out.write(b, 2);
  }
  if (!out) throw InputError(path, "", "write failed");
}

}  // namespace zplan::rt
